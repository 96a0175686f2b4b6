using System.Globalization;
using Sysstream.Proc;

namespace Sysstream.Sockets;

/// <summary>A process holding a socket: one per (process, descriptor).</summary>
public sealed record SocketOwner(int Pid, int Fd, string Comm, uint Uid, string User);

/// <summary>A socket with every process that holds it, and for a local connection the other end's owners.</summary>
public sealed record SocketEntry
{
    public required NetSocket Socket { get; init; }
    public IReadOnlyList<SocketOwner> Owners { get; init; } = [];
    /// <summary>The other end of a connection whose both ends are on this machine (same namespace).</summary>
    public ulong? PeerInode { get; init; }
    public IReadOnlyList<SocketOwner> PeerOwners { get; init; } = [];
}

/// <summary>
/// Every socket on the machine, with its owners: the sockets of each network namespace from
/// /proc/PID/net/{tcp,tcp6,udp,udp6,unix} (one process per namespace), and the owners from
/// /proc/PID/fd (links "socket:[INODE]"). Sockets that existed before sysstream started are
/// there like any other. Without root only what this user may read is seen.
/// </summary>
public sealed class SocketInventory
{
    private readonly string _proc;
    private readonly ProcessTable _processes;

    /// <param name="root">"/" normally; tests pass a fixture tree.</param>
    public SocketInventory(ProcessTable processes, string root = "/")
    {
        _processes = processes;
        _proc = Path.Combine(root, "proc");
    }

    public IReadOnlyList<SocketEntry> Collect()
    {
        var owners = new Dictionary<ulong, List<(int Pid, int Fd)>>();
        var namespaces = new Dictionary<ulong, int>(); // netns inode -> a pid in it
        foreach (int pid in Pids())
        {
            string dir = Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture));
            if (ParseLinkNumber(ReadLink(Path.Combine(dir, "ns", "net")), "net:[") is ulong ns)
                namespaces.TryAdd(ns, pid);
            foreach ((int fd, ulong inode) in SocketFds(dir))
            {
                if (!owners.TryGetValue(inode, out var list))
                    owners[inode] = list = new List<(int, int)>();
                list.Add((pid, fd));
            }
        }

        var sockets = new List<NetSocket>();
        var seenInodes = new HashSet<ulong>();
        // Our own namespace first (readable even when other processes' namespaces are not).
        ulong self = ParseLinkNumber(ReadLink(Path.Combine(_proc, "self", "ns", "net")), "net:[") ?? 0;
        var sources = new List<(string Dir, ulong Ns)> { (Path.Combine(_proc, "net"), self) };
        foreach ((ulong ns, int pid) in namespaces)
        {
            if (ns != self)
                sources.Add((Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture), "net"), ns));
        }
        foreach ((string dir, ulong ns) in sources)
        {
            foreach (NetSocket s in ReadNamespace(dir, ns))
            {
                // inode 0: sockets without a file (TIME_WAIT, orphans) are all kept
                if (s.Inode == 0 || seenInodes.Add(s.Inode))
                    sockets.Add(s);
            }
        }
        return Join(sockets, inode => owners.TryGetValue(inode, out var l) ? l : null);
    }

    /// <summary>Attaches owners (resolved through the process table) and local peers.</summary>
    public IReadOnlyList<SocketEntry> Join(IReadOnlyList<NetSocket> sockets, Func<ulong, IReadOnlyList<(int Pid, int Fd)>?> ownersOf)
    {
        var entries = sockets.Select(s => new SocketEntry { Socket = s, Owners = Resolve(s.Inode == 0 ? null : ownersOf(s.Inode)) }).ToList();
        return WithPeers(entries);
    }

    /// <summary>For each connected inet socket, the socket in the same namespace whose ends are its ends swapped.</summary>
    public static IReadOnlyList<SocketEntry> WithPeers(IReadOnlyList<SocketEntry> entries)
    {
        var byEnds = new Dictionary<(ulong, string, string, string), SocketEntry>();
        foreach (SocketEntry e in entries)
        {
            NetSocket s = e.Socket;
            if (s.IsUnix || s.RemotePort == 0)
                continue;
            byEnds.TryAdd((s.Netns, s.Proto, End(s, local: true), End(s, local: false)), e);
        }
        var result = new List<SocketEntry>(entries.Count);
        foreach (SocketEntry e in entries)
        {
            NetSocket s = e.Socket;
            if (!s.IsUnix && s.RemotePort != 0
                && byEnds.TryGetValue((s.Netns, s.Proto, End(s, local: false), End(s, local: true)), out SocketEntry? peer)
                && !ReferenceEquals(peer, e))
                result.Add(e with { PeerInode = peer.Socket.Inode, PeerOwners = peer.Owners });
            else
                result.Add(e);
        }
        return result;
    }

    private static string End(NetSocket s, bool local) => local
        ? (s.LocalAddress?.ToString() ?? "") + "|" + s.LocalPort.ToString(CultureInfo.InvariantCulture)
        : (s.RemoteAddress?.ToString() ?? "") + "|" + s.RemotePort.ToString(CultureInfo.InvariantCulture);

    private List<SocketOwner> Resolve(IReadOnlyList<(int Pid, int Fd)>? holders)
    {
        var result = new List<SocketOwner>();
        if (holders is null)
            return result;
        foreach ((int pid, int fd) in holders.OrderBy(h => h.Pid).ThenBy(h => h.Fd))
        {
            ProcessInfo? p = _processes.Get(pid);
            result.Add(new SocketOwner(pid, fd, p?.Comm ?? "", p?.Uid ?? 0, p?.User ?? ""));
        }
        return result;
    }

    private static IEnumerable<NetSocket> ReadNamespace(string netDir, ulong ns)
    {
        foreach ((string file, string proto) in new[] { ("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp") })
        {
            string? text = TryRead(Path.Combine(netDir, file));
            if (text is not null)
                foreach (NetSocket s in ProcNet.ParseInet(text, proto, ns))
                    yield return s;
        }
        string? unix = TryRead(Path.Combine(netDir, "unix"));
        if (unix is not null)
            foreach (NetSocket s in ProcNet.ParseUnix(unix, ns))
                yield return s;
    }

    private IEnumerable<int> Pids()
    {
        IEnumerable<string> dirs;
        try
        {
            dirs = Directory.EnumerateDirectories(_proc).ToList();
        }
        catch (IOException)
        {
            yield break;
        }
        foreach (string d in dirs)
        {
            if (int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                yield return pid;
        }
    }

    /// <summary>The socket descriptors of a process: (fd, inode) for each link "socket:[INODE]".</summary>
    private static List<(int Fd, ulong Inode)> SocketFds(string pidDir)
    {
        var result = new List<(int, ulong)>();
        string fdDir = Path.Combine(pidDir, "fd");
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(fdDir).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return result; // gone, or not ours to read
        }
        foreach (string entry in entries)
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int fd))
                continue;
            if (ParseLinkNumber(ReadLink(entry), "socket:[") is ulong inode)
                result.Add((fd, inode));
        }
        return result;
    }

    /// <summary>"socket:[12345]" with prefix "socket:[" -> 12345.</summary>
    public static ulong? ParseLinkNumber(string? link, string prefix)
    {
        if (link is null || !link.StartsWith(prefix, StringComparison.Ordinal) || !link.EndsWith(']'))
            return null;
        return ulong.TryParse(link.AsSpan(prefix.Length, link.Length - prefix.Length - 1), NumberStyles.None,
            CultureInfo.InvariantCulture, out ulong n) ? n : null;
    }

    private static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
