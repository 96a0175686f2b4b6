using System.Globalization;
using System.Net;

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
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(_proc, file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string line in lines.Skip(1))
        {
            if (TryParseInetLine(line, out IPAddress? local, out ushort port, out IPAddress? remote, out ushort rport, out int state, out ulong inode)
                && state == listenState && inode != 0 && rport == 0 && port != 0)
            {
                // UDP: only unconnected sockets bound to a port count as servers.
                if (proto == "udp" && remote is not null && !Aggregation.Endpoints.IsUnspecified(remote))
                    continue;
                into.Add((new ListenerInfo { Proto = proto, Address = local, Port = port, Inode = inode }, inode));
            }
        }
    }

    /// <summary>
    /// One line of /proc/net/tcp|udp[6]: "sl local_address rem_address st ... inode": addresses are
    /// hex in the kernel's byte order (32-bit words in host order), ports hex.
    /// </summary>
    public static bool TryParseInetLine(string line, out IPAddress? local, out ushort lport, out IPAddress? remote, out ushort rport,
        out int state, out ulong inode)
    {
        local = remote = null;
        lport = rport = 0;
        state = 0;
        inode = 0;
        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 10)
            return false;
        if (!TryParseEndpoint(f[1], out local, out lport) || !TryParseEndpoint(f[2], out remote, out rport))
            return false;
        return int.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out state)
            && ulong.TryParse(f[9], NumberStyles.None, CultureInfo.InvariantCulture, out inode);
    }

    private static bool TryParseEndpoint(string text, out IPAddress? address, out ushort port)
    {
        address = null;
        port = 0;
        int colon = text.IndexOf(':');
        if (colon < 0 || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port))
            return false;
        ReadOnlySpan<char> hex = text.AsSpan(0, colon);
        if (hex.Length != 8 && hex.Length != 32)
            return false;
        byte[] bytes = new byte[hex.Length / 2];
        for (int word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint w))
                return false;
            // each 32-bit word is printed as a host-order (little-endian here) integer
            BitConverter.TryWriteBytes(bytes.AsSpan(word * 4, 4), w);
        }
        address = Aggregation.Endpoints.Normalize(new IPAddress(bytes));
        return true;
    }

    private void ParseUnix(List<(ListenerInfo, ulong)> into)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(_proc, "net/unix"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }
        // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON (listening)
        foreach (string line in lines.Skip(1))
        {
            string[] f = line.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8 || f[3] != "00010000")
                continue;
            if (!ulong.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
                continue;
            string path = f[7].Trim();
            if (path.Length == 0)
                continue;
            into.Add((new ListenerInfo { Proto = "unix", Path = path, Inode = inode }, inode));
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
