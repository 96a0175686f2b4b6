using System.Globalization;
using Sysstream.Aggregation;
using Sysstream.Sockets;

namespace Sysstream.Top.Netstat;

/// <summary>What `netstat` keeps: kinds are ANDed, values within a kind ORed.</summary>
public sealed record NetstatFilter
{
    public bool ListenOnly { get; init; }
    /// <summary>"tcp", "udp", "unix"; empty: all.</summary>
    public IReadOnlySet<string> Protos { get; init; } = new HashSet<string>();
    public IReadOnlySet<int> Pids { get; init; } = new HashSet<int>();
    /// <summary>Local or remote port.</summary>
    public IReadOnlySet<int> Ports { get; init; } = new HashSet<int>();

    public bool Matches(SocketEntry e)
    {
        NetSocket s = e.Socket;
        if (ListenOnly && !s.Listening)
            return false;
        if (Protos.Count > 0 && !Protos.Contains(s.Proto))
            return false;
        if (Pids.Count > 0 && !e.Owners.Any(o => Pids.Contains(o.Pid)))
            return false;
        if (Ports.Count > 0 && (s.IsUnix || !(Ports.Contains(s.LocalPort) || (s.RemotePort != 0 && Ports.Contains(s.RemotePort)))))
            return false;
        return true;
    }
}

/// <summary>A socket with, when top's maps are loaded and saw it, its bytes and age.</summary>
public sealed record NetstatRow
{
    public required SocketEntry Entry { get; init; }
    public ConnectionRow? Traffic { get; init; }

    public NetSocket Socket => Entry.Socket;

    public string State => Socket.IsUnix ? ProcNet.UnixState(Socket)
        : Socket.IsUdp ? (Socket.State == 1 ? "ESTABLISHED" : "UNCONN")
        : Endpoints.TcpState(Socket.State);

    public string Local => Socket.IsUnix ? (Socket.Path.Length > 0 ? Socket.Path : "*") : Endpoints.Format(Socket.LocalAddress, Socket.LocalPort);

    public string Remote => Socket.IsUnix ? (Entry.PeerInode is ulong p ? "inode " + p.ToString(CultureInfo.InvariantCulture) : "*")
        : Endpoints.Format(Socket.RemoteAddress, Socket.RemotePort);

    /// <summary>The socket's user: its creator (inet), else its first owner's.</summary>
    public string User(Func<uint, string> names) => Socket.Uid is uint uid ? names(uid)
        : Entry.Owners.Count > 0 ? Entry.Owners[0].User : "";

    public static string Owners(IReadOnlyList<SocketOwner> owners) =>
        string.Join(",", owners.Select(o => $"{o.Pid}/{o.Comm}(fd {o.Fd})"));
}

/// <summary>Builds netstat's rows: filter, join top's connection totals (by inode, else by ends), sort.</summary>
public static class NetstatRows
{
    public static IReadOnlyList<NetstatRow> Build(IReadOnlyList<SocketEntry> entries, NetstatFilter filter, TopFrame? traffic)
    {
        var byInode = new Dictionary<ulong, ConnectionRow>();
        var byEnds = new Dictionary<string, ConnectionRow>(StringComparer.Ordinal);
        foreach (ConnectionRow c in traffic?.Connections ?? [])
        {
            if (c.Totals.Inode != 0)
                byInode.TryAdd(c.Totals.Inode, c);
            if (!c.Totals.Closed)
                byEnds.TryAdd(c.Proto + " " + c.Local + " " + c.Remote, c);
        }
        var rows = new List<NetstatRow>();
        foreach (SocketEntry e in entries)
        {
            if (!filter.Matches(e))
                continue;
            NetSocket s = e.Socket;
            ConnectionRow? t = null;
            if (s.Inode != 0 && byInode.TryGetValue(s.Inode, out ConnectionRow? c))
                t = c;
            else if (!s.IsUnix)
                byEnds.TryGetValue(s.Proto + " " + Endpoints.Format(s.LocalAddress, s.LocalPort) + " " + Endpoints.Format(s.RemoteAddress, s.RemotePort), out t);
            rows.Add(new NetstatRow { Entry = e, Traffic = t });
        }
        rows.Sort(Compare);
        return rows;
    }

    /// <summary>tcp, udp, unix; listening first; then by local port, remote, inode.</summary>
    public static int Compare(NetstatRow a, NetstatRow b)
    {
        int c = Rank(a.Socket.Proto).CompareTo(Rank(b.Socket.Proto));
        if (c == 0)
            c = b.Socket.Listening.CompareTo(a.Socket.Listening);
        if (c == 0)
            c = a.Socket.Family.CompareTo(b.Socket.Family);
        if (c == 0)
            c = a.Socket.IsUnix ? string.CompareOrdinal(a.Socket.Path, b.Socket.Path) : a.Socket.LocalPort.CompareTo(b.Socket.LocalPort);
        if (c == 0)
            c = a.Socket.RemotePort.CompareTo(b.Socket.RemotePort);
        return c != 0 ? c : a.Socket.Inode.CompareTo(b.Socket.Inode);
    }

    private static int Rank(string proto) => proto switch { "tcp" => 0, "udp" => 1, "unix" => 2, _ => 3 };
}
