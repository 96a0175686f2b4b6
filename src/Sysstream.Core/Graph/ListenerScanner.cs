using System.Globalization;
using Sysstream.Sockets;

namespace Sysstream.Graph;

/// <summary>
/// The listening sockets of this host from /proc/net (tcp, tcp6, udp, udp6, unix) and the
/// processes holding them (their /proc/PID/fd links), so that servers show on the map before
/// anyone connects, and clients of servers whose own sockets were not seen still find them.
/// Sockets that existed before sysstream started are included. Read on the map's timer.
/// </summary>
public sealed class ListenerScanner
{
    private readonly string _proc;

    public ListenerScanner(string root = "/") => _proc = Path.Combine(root, "proc");

    public IReadOnlyList<ListenerInfo> Scan(bool includeUnix = true)
    {
        var found = new List<(ListenerInfo Info, ulong Inode)>();
        Parse("tcp", "net/tcp", listenState: 0x0A, found);
        Parse("tcp", "net/tcp6", listenState: 0x0A, found);
        Parse("udp", "net/udp", listenState: 0x07, found);
        Parse("udp", "net/udp6", listenState: 0x07, found);
        if (includeUnix)
            ParseUnix(found);
        if (found.Count == 0)
            return [];
        var owners = Owners(found.Select(f => f.Inode).ToHashSet());
        var result = new List<ListenerInfo>(found.Count);
        foreach ((ListenerInfo info, ulong inode) in found)
        {
            owners.TryGetValue(inode, out List<int>? pids);
            if (pids is null || pids.Count == 0)
                continue; // nobody we can see holds it (another namespace, or gone)
            result.Add(info with { Pids = pids.Distinct().OrderBy(p => p).ToList() });
        }
        return result;
    }

    private void Parse(string proto, string file, int listenState, List<(ListenerInfo, ulong)> into)
    {
        string? text = Read(file);
        if (text is null)
            return;
        foreach (NetSocket s in ProcNet.ParseInet(text, proto))
        {
            if (s.State != listenState || s.Inode == 0 || s.RemotePort != 0 || s.LocalPort == 0)
                continue;
            // UDP: only unconnected sockets bound to a port count as servers.
            if (proto == "udp" && s.RemoteAddress is not null && !Aggregation.Endpoints.IsUnspecified(s.RemoteAddress))
                continue;
            into.Add((new ListenerInfo { Proto = proto, Address = s.LocalAddress, Port = s.LocalPort, Inode = s.Inode }, s.Inode));
        }
    }

    private void ParseUnix(List<(ListenerInfo, ulong)> into)
    {
        string? text = Read("net/unix");
        if (text is null)
            return;
        foreach (NetSocket s in ProcNet.ParseUnix(text))
        {
            if (s.UnixListening && s.Path.Length > 0)
                into.Add((new ListenerInfo { Proto = "unix", Path = s.Path, Inode = s.Inode }, s.Inode));
        }
    }

    private string? Read(string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(_proc, file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>inode -> pids holding a descriptor of it, from the /proc/PID/fd links.</summary>
    private Dictionary<ulong, List<int>> Owners(HashSet<ulong> wanted)
    {
        var owners = new Dictionary<ulong, List<int>>();
        IEnumerable<string> dirs;
        try
        {
            dirs = Directory.EnumerateDirectories(_proc);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return owners;
        }
        foreach (string dir in dirs)
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                continue;
            IEnumerable<string> fds;
            try
            {
                fds = Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (string fd in fds)
            {
                string? target;
                try
                {
                    target = new FileInfo(fd).LinkTarget;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    continue;
                }
                // "socket:[12345]"
                if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal))
                    continue;
                if (!ulong.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode)
                    || !wanted.Contains(inode))
                    continue;
                if (!owners.TryGetValue(inode, out List<int>? list))
                    owners[inode] = list = new();
                if (!list.Contains(pid))
                    list.Add(pid);
            }
        }
        return owners;
    }

    /// <summary>net.ipv4.ip_local_port_range, the ports the kernel hands to clients.</summary>
    public (int Low, int High) EphemeralPorts()
    {
        try
        {
            string[] f = File.ReadAllText(Path.Combine(_proc, "sys/net/ipv4/ip_local_port_range"))
                .Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 2 && int.TryParse(f[0], out int lo) && int.TryParse(f[1], out int hi))
                return (lo, hi);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return (32768, 60999);
    }
}
