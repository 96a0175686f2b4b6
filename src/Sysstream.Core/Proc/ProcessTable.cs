using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Sysstream.Proc;

/// <summary>
/// Facts about processes from /proc (command line, executable, user, cgroup), cached by pid and
/// start time so a reused pid is not confused with the old process. Reads happen off the hot
/// path: views ask when they render, not per event. Processes that are gone keep their last
/// facts until <see cref="Forget"/>.
/// </summary>
public sealed class ProcessTable
{
    private readonly string _proc;
    private readonly ConcurrentDictionary<int, ProcessInfo> _cache = new();

    public UserNames Users { get; }

    /// <param name="root">The file system root, "/" normally; tests pass a fixture tree.</param>
    public ProcessTable(string root = "/")
    {
        _proc = Path.Combine(root, "proc");
        Users = new UserNames(root);
    }

    /// <summary>The process, read from /proc if not cached (or if the pid was reused); null if
    /// it is gone and was never seen.</summary>
    public ProcessInfo? Get(int pid)
    {
        ulong? start = ReadStartTicks(pid);
        if (_cache.TryGetValue(pid, out ProcessInfo? known) && (start is null || start == known.StartTicks))
            return known;
        ProcessInfo? fresh = Read(pid);
        if (fresh is not null)
            _cache[pid] = fresh;
        return fresh ?? known;
    }

    public void Forget(int pid) => _cache.TryRemove(pid, out _);

    /// <summary>Every pid now in /proc.</summary>
    public IEnumerable<int> Pids()
    {
        foreach (string dir in Directory.EnumerateDirectories(_proc))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                yield return pid;
        }
    }

    /// <summary>Reads a process now, uncached; null if it is gone.</summary>
    public ProcessInfo? Read(int pid)
    {
        string dir = Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture));
        string? stat = TryRead(Path.Combine(dir, "stat"));
        if (stat is null || !TryParseStat(stat, out string comm, out int ppid, out ulong start))
            return null;
        (uint uid, uint gid) = ParseStatusIds(TryRead(Path.Combine(dir, "status")));
        return new ProcessInfo
        {
            Pid = pid,
            Ppid = ppid,
            Comm = comm,
            CommandLine = ParseCmdline(TryReadBytes(Path.Combine(dir, "cmdline"))),
            Exe = TryReadLink(Path.Combine(dir, "exe")),
            Uid = uid,
            Gid = gid,
            User = Users.User(uid),
            Group = Users.Group(gid),
            StartTicks = start,
            Cgroup = ParseCgroup(TryRead(Path.Combine(dir, "cgroup"))),
        };
    }

    private ulong? ReadStartTicks(int pid)
    {
        string? stat = TryRead(Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture), "stat"));
        return stat is not null && TryParseStat(stat, out _, out _, out ulong start) ? start : null;
    }

    /// <summary>Parses /proc/PID/stat: the name is in parentheses and may itself contain them.</summary>
    public static bool TryParseStat(string stat, out string comm, out int ppid, out ulong startTicks)
    {
        comm = "";
        ppid = 0;
        startTicks = 0;
        int open = stat.IndexOf('(');
        int close = stat.LastIndexOf(')');
        if (open < 0 || close < open)
            return false;
        comm = stat[(open + 1)..close];
        string[] rest = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // rest[0] is the state (field 3); ppid is field 4, starttime field 22.
        if (rest.Length < 20)
            return false;
        return int.TryParse(rest[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out ppid)
            && ulong.TryParse(rest[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out startTicks);
    }

    /// <summary>The real uid and gid from /proc/PID/status.</summary>
    public static (uint Uid, uint Gid) ParseStatusIds(string? status)
    {
        uint uid = 0, gid = 0;
        foreach (string line in (status ?? "").Split('\n'))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                uint.TryParse(line[4..].Trim().Split('\t', ' ')[0], out uid);
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
                uint.TryParse(line[4..].Trim().Split('\t', ' ')[0], out gid);
        }
        return (uid, gid);
    }

    /// <summary>NUL-separated arguments joined with spaces.</summary>
    public static string ParseCmdline(byte[]? bytes)
    {
        if (bytes is null || bytes.Length == 0)
            return "";
        int end = bytes.Length;
        while (end > 0 && bytes[end - 1] == 0)
            end--;
        return Encoding.UTF8.GetString(bytes, 0, end).Replace('\0', ' ');
    }

    /// <summary>The cgroup v2 path ("0::/system.slice/nginx.service"), or "" on v1-only systems.</summary>
    public static string ParseCgroup(string? text)
    {
        foreach (string line in (text ?? "").Split('\n'))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
                return line[3..];
        }
        return "";
    }

    private static string? TryRead(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static byte[]? TryReadBytes(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string TryReadLink(string path)
    {
        try { return new FileInfo(path).LinkTarget ?? ""; }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }
}
