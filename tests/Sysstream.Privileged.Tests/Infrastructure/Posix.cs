using System.Runtime.InteropServices;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>The few libc calls the tests need: sending a chosen signal to a process.</summary>
internal static partial class Posix
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGQUIT = 3;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    /// <summary>Sends <paramref name="signal"/>; false if the process is already gone.</summary>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>The parent pid and the state letter of a process, from /proc/PID/stat; null when it is gone.</summary>
    public static (int Ppid, char State)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0)
            return null;
        string[] rest = text[(close + 2)..].Split(' ');
        return (int.Parse(rest[1]), rest[0][0]);
    }

    /// <summary>Live (not zombie) processes whose parent is <paramref name="ppid"/>.</summary>
    public static List<int> Children(int ppid)
    {
        var result = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            if (Stat(pid) is { } s && s.Ppid == ppid && s.State != 'Z')
                result.Add(pid);
        }
        return result;
    }

    /// <summary>The real uid and gid of a process (/proc/PID/status).</summary>
    public static (uint Uid, uint Gid) Ids(int pid)
    {
        uint uid = uint.MaxValue, gid = uint.MaxValue;
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                uid = uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
                gid = uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        return (uid, gid);
    }
}
