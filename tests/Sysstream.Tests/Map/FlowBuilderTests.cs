using System.Net;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Graph;
using Xunit;

namespace Sysstream.Tests.Map;

/// <summary>Fakes for building maps from hand-made kernel rows.</summary>
internal sealed class FakeDirectory : IProcessDirectory
{
    public Dictionary<int, (string Exe, string User, string Cgroup)> Known { get; } = new();

    public ProcessFact Describe(int pid, ulong startNs, string comm, uint uid)
    {
        Known.TryGetValue(pid, out var k);
        return new ProcessFact
        {
            Pid = pid,
            StartNs = startNs,
            Comm = comm,
            Uid = uid,
            Exe = k.Exe ?? "",
            User = k.User ?? (uid == 0 ? "root" : uid.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Cgroup = k.Cgroup ?? "",
        };
    }

    public string UserName(uint uid) => uid == 0 ? "root" : "u" + uid;
}

internal static class Rows
{
    public const ulong S = 1_000_000_000;

    public static ConnectionTotals Tcp(ulong cookie, string la, ushort lp, string ra, ushort rp, int pid, string comm,
        TopConnFlags flags, ulong tx = 0, ulong rx = 0, ulong first = 1 * S, ulong close = 0, uint uid = 0) => new()
    {
        Cookie = cookie,
        Family = Sock.AF_INET,
        Protocol = Sock.IPPROTO_TCP,
        SocketType = 1,
        LocalAddress = IPAddress.Parse(la),
        LocalPort = lp,
        RemoteAddress = IPAddress.Parse(ra),
        RemotePort = rp,
        State = (byte)(close != 0 ? 7 : 1),
        Flags = flags | (close != 0 ? TopConnFlags.Closed : 0),
        TxBytes = tx,
        RxBytes = rx,
        FirstNs = first,
        LastNs = first,
        CloseNs = close,
        OwnerPid = pid,
        OwnerStartNs = (ulong)pid * 1000,
        OwnerUid = uid,
        OwnerComm = comm,
    };

    public static ProcessTotals Proc(int pid, string comm, uint uid = 0, ulong tx = 0, ulong rx = 0) =>
        new() { Pid = pid, StartNs = (ulong)pid * 1000, Comm = comm, Uid = uid, TxBytes = tx, RxBytes = rx };

    public static TopSnapshot Snap(ulong at, IEnumerable<ProcessTotals> procs, params ConnectionTotals[] conns) =>
        new() { TakenNs = at, Processes = procs.ToList(), Connections = conns };

    public static ListenerInfo Listen(string proto, string addr, ushort port, params int[] pids) =>
        new() { Proto = proto, Address = IPAddress.Parse(addr), Port = port, Pids = pids };
}

public sealed class FlowBuilderTests
{
    private const ulong S = Rows.S;

    private static (FlowBuilder Builder, FakeDirectory Dir) New()
    {
        var dir = new FakeDirectory();
        dir.Known[100] = ("/usr/bin/curl", "root", "/user.slice");
        dir.Known[101] = ("/usr/bin/curl", "root", "/user.slice");
        dir.Known[200] = ("/usr/sbin/nginx", "www-data", "/system.slice/nginx.service");
        dir.Known[201] = ("/usr/sbin/nginx", "www-data", "/system.slice/nginx.service");
        dir.Known[300] = ("/usr/bin/python3.11", "alice", "/user.slice");
        return (new FlowBuilder(dir), dir);
    }

    private static readonly ProcessTotals[] Procs =
    [
        Rows.Proc(100, "curl"), Rows.Proc(101, "curl"), Rows.Proc(200, "nginx", 33), Rows.Proc(201, "nginx", 33), Rows.Proc(300, "python3", 1000),
    ];

    /// <summary>curl (pid 100) connected to nginx (pid 200) on loopback: both sockets.</summary>
    private static ConnectionTotals[] LoopbackPair(ulong client = 11, ulong server = 12, ulong tx = 78, ulong rx = 5288, ulong close = 0) =>
    [
        Rows.Tcp(client, "127.0.0.1", 40000, "127.0.0.1", 80, 100, "curl", TopConnFlags.Active | TopConnFlags.Established, tx, rx, 1 * S, close),
        Rows.Tcp(server, "127.0.0.1", 80, "127.0.0.1", 40000, 200, "nginx", TopConnFlags.Passive | TopConnFlags.Established, rx, tx, 1 * S + 40_000, close),
    ];

    [Fact]
    public void Both_ends_of_a_local_connection_are_one_edge_from_client_to_server()
    {
        var (b, _) = New();
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, LoopbackPair()), [], [Rows.Listen("tcp", "127.0.0.1", 80, 200, 201)], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.ExeUser);

        MapEdge e = Assert.Single(g.Edges);
        Assert.Equal("app:/usr/bin/curl@root", e.From);
        Assert.Equal("app:/usr/sbin/nginx@www-data", e.To);
        Assert.True(e.Local);
        Assert.Equal("tcp", e.Proto);
        Assert.Equal(["80"], e.Ports);
        Assert.Equal(1, e.Opened);
        Assert.Equal(1, e.Open);
        Assert.Equal(78UL, e.BytesToServer);
        Assert.Equal(5288UL, e.BytesToClient);
        // connect time from the two ends: SYN sent -> server established
        Assert.Equal(40UL, e.ConnectUs!.Max);
        MapConnection c = Assert.Single(e.Connections);
        Assert.Equal(100, c.ClientPid);
        Assert.Equal(200, c.ServerPid);
        Assert.Equal(11UL, c.Id);
        Assert.Equal(12UL, c.PeerId);
        Assert.Equal("127.0.0.1:40000", c.Client);
        Assert.Equal("127.0.0.1:80", c.Server);
        Assert.Contains(g.Nodes, n => n.Label == "nginx (www-data)" && n.Listening.Any(l => l.Display == "tcp 127.0.0.1:80"));
        Assert.Contains(g.Nodes, n => n.Label == "curl (root)");
    }

    [Fact]
    public void Grouping_changes_the_nodes_not_the_flows()
    {
        var (b, _) = New();
        // two curl processes to the same nginx
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs,
            [.. LoopbackPair(11, 12), .. new[]
            {
                Rows.Tcp(21, "127.0.0.1", 40001, "127.0.0.1", 80, 101, "curl", TopConnFlags.Active, 10, 20),
                Rows.Tcp(22, "127.0.0.1", 80, "127.0.0.1", 40001, 201, "nginx", TopConnFlags.Passive, 20, 10),
            }]), [], [], LocalAddresses.LoopbackOnly);

        MapGraph byApp = GraphProjector.Project(set, GroupBy.ExeUser);
        MapEdge e = Assert.Single(byApp.Edges);
        Assert.Equal(2, e.Opened);
        Assert.Equal(88UL, e.BytesToServer);
        Assert.Equal([100, 101], byApp.Nodes.Single(n => n.Id == e.From).Pids);

        MapGraph byPid = GraphProjector.Project(set, GroupBy.Pid);
        Assert.Equal(2, byPid.Edges.Count);
        Assert.Contains(byPid.Edges, x => x.From == "pid:100" && x.To == "pid:200");
        Assert.Contains(byPid.Edges, x => x.From == "pid:101" && x.To == "pid:201");

        MapGraph byUser = GraphProjector.Project(set, GroupBy.User);
        Assert.Equal("user:root->user:www-data/tcp", Assert.Single(byUser.Edges).Id);

        MapGraph byCgroup = GraphProjector.Project(set, GroupBy.Cgroup);
        Assert.Contains(byCgroup.Nodes, n => n.Label == "nginx.service");

        MapGraph byComm = GraphProjector.Project(set, GroupBy.Comm);
        Assert.Equal("comm:curl->comm:nginx/tcp", Assert.Single(byComm.Edges).Id);
    }

    [Fact]
    public void A_refused_connect_is_a_failed_edge_to_the_local_port_with_the_error()
    {
        var (b, _) = New();
        var row = Rows.Tcp(31, "127.0.0.1", 0, "127.0.0.1", 9, 100, "curl", TopConnFlags.Active | TopConnFlags.Failed | TopConnFlags.RstRx, close: 1 * S + 50);
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, row), [], [], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.ExeUser);

        MapEdge e = Assert.Single(g.Edges);
        Assert.Equal("local:127.0.0.1:9", e.To);
        Assert.Equal(1, e.Failed);
        Assert.Equal(0, e.Open);
        Assert.Equal(1L, e.Errors["ECONNREFUSED"]);
        Assert.Equal("local", g.Nodes.Single(n => n.Id == e.To).Kind);
        Assert.Equal("ECONNREFUSED", e.Connections[0].Error);
    }

    [Fact]
    public void The_error_connect_returned_wins_over_the_guess()
    {
        var (b, _) = New();
        var row = Rows.Tcp(32, "10.0.0.5", 0, "10.9.9.9", 443, 100, "curl", TopConnFlags.Active | TopConnFlags.Failed, close: 3 * S);
        var ev = new SocketEvent
        {
            Kind = SocketEventKind.Connect, Pid = 100, Comm = "curl", Cookie = 32, Family = Sock.AF_INET, Protocol = Sock.IPPROTO_TCP,
            RemoteAddress = IPAddress.Parse("10.9.9.9"), RemotePort = 443, Ret = -113, Error = "EHOSTUNREACH", TsNs = 3 * S,
        };
        FlowSet set = b.Update(Rows.Snap(4 * S, Procs, row), [ev], [], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.ExeUser).Edges);
        Assert.Equal("remote:10.9.9.9:443", e.To);
        Assert.Equal(1L, e.Errors["EHOSTUNREACH"]);
    }

    [Fact]
    public void A_failed_connect_known_only_from_its_event_is_counted_once()
    {
        var (b, _) = New();
        var ev = new SocketEvent
        {
            Kind = SocketEventKind.Connect, Pid = 100, Comm = "curl", Cookie = 0, Family = Sock.AF_UNIX,
            RemotePath = "/run/nscd/socket", Ret = -2, Error = "ENOENT", TsNs = 1 * S,
        };
        b.Update(Rows.Snap(2 * S, Procs), [ev], [], LocalAddresses.LoopbackOnly);
        FlowSet set = b.Update(Rows.Snap(3 * S, Procs), [], [], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.ExeUser).Edges);
        Assert.Equal("unix", e.Proto);
        Assert.Equal(["/run/nscd/socket"], e.Ports);
        Assert.Equal(1, e.Opened);
        Assert.Equal(1L, e.Errors["ENOENT"]);
    }

    [Fact]
    public void Direction_of_sockets_older_than_sysstream_comes_from_listening_ports()
    {
        var (b, _) = New();
        // no ACTIVE/PASSIVE flags: both were open before attach
        var client = Rows.Tcp(41, "127.0.0.1", 50000, "127.0.0.1", 8080, 300, "python3", 0, 5, 7, uid: 1000);
        var server = Rows.Tcp(42, "127.0.0.1", 8080, "127.0.0.1", 50000, 200, "nginx", 0, 7, 5, uid: 33);
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, server, client), [], [Rows.Listen("tcp", "0.0.0.0", 8080, 200)], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("pid:300", e.From);
        Assert.Equal("pid:200", e.To);
        Assert.Equal(5UL, e.BytesToServer);
    }

    [Fact]
    public void Without_a_listener_the_ephemeral_port_is_the_client()
    {
        var (b, _) = New();
        var row = Rows.Tcp(43, "192.168.1.10", 22, "203.0.113.9", 51515, 300, "python3", 0, 100, 10);
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, row), [], [], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("remote:203.0.113.9", e.From);
        Assert.Equal("pid:300", e.To);
        Assert.Equal(["22"], e.Ports);
        Assert.Equal(10UL, e.BytesToServer);
        Assert.Equal(100UL, e.BytesToClient);
    }

    [Fact]
    public void A_remote_server_is_keyed_by_address_and_port_and_named_when_dns_answers()
    {
        var (b, _) = New();
        var row = Rows.Tcp(51, "10.0.0.5", 40000, "93.184.216.34", 443, 100, "curl", TopConnFlags.Active, 500, 9000);
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, row), [], [], new LocalAddresses(["10.0.0.5"]));
        MapGraph noName = GraphProjector.Project(set, GroupBy.ExeUser);
        MapNode remote = noName.Nodes.Single(n => n.Kind == "remote");
        Assert.Equal("remote:93.184.216.34:443", remote.Id);
        Assert.Equal("93.184.216.34:443", remote.Label);
        Assert.Equal(443, remote.Port);

        MapGraph named = GraphProjector.Project(set, GroupBy.ExeUser, new FixedNames("example.test"));
        MapNode n2 = named.Nodes.Single(n => n.Kind == "remote");
        Assert.Equal("remote:93.184.216.34:443", n2.Id);
        Assert.Equal("example.test:443", n2.Label);
        Assert.Equal("example.test", n2.Name);
    }

    private sealed class FixedNames(string name) : IHostNames
    {
        public string? TryGet(IPAddress address) => name;
    }

    [Fact]
    public void Rates_come_from_two_snapshots_and_totals_survive_the_rows()
    {
        var (b, _) = New();
        b.Update(Rows.Snap(2 * S, Procs, LoopbackPair(tx: 100, rx: 1000)), [], [], LocalAddresses.LoopbackOnly);
        FlowSet second = b.Update(Rows.Snap(4 * S, Procs, LoopbackPair(tx: 300, rx: 5000)), [], [], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(second, GroupBy.ExeUser).Edges);
        Assert.Equal(100.0, e.RateToServer); // 200 bytes in 2 s
        Assert.Equal(2000.0, e.RateToClient);
        Assert.Equal(2.0, second.IntervalSeconds);

        // the connection closes, then its rows are forgotten by the kernel maps: totals stay
        b.Update(Rows.Snap(5 * S, Procs, LoopbackPair(tx: 300, rx: 5000, close: 4 * S + 1)), [], [], LocalAddresses.LoopbackOnly);
        FlowSet gone = b.Update(Rows.Snap(20 * S, Procs), [], [], LocalAddresses.LoopbackOnly);
        MapEdge after = Assert.Single(GraphProjector.Project(gone, GroupBy.ExeUser).Edges);
        Assert.Equal(1, after.Opened);
        Assert.Equal(0, after.Open);
        Assert.Equal(300UL, after.BytesToServer);
        Assert.Equal(5000UL, after.BytesToClient);
        Assert.Equal(0.0, after.RateToServer);
        Assert.Equal("CLOSED", Assert.Single(after.Connections).State);
    }

    [Fact]
    public void A_connection_seen_first_from_the_server_side_is_not_counted_twice()
    {
        var (b, _) = New();
        ConnectionTotals[] pair = LoopbackPair();
        b.Update(Rows.Snap(2 * S, Procs, pair[1]), [], [], LocalAddresses.LoopbackOnly);
        b.Update(Rows.Snap(3 * S, Procs, pair), [], [], LocalAddresses.LoopbackOnly);
        FlowSet set = b.Update(Rows.Snap(30 * S, Procs), [], [], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.ExeUser);
        Assert.Equal(1, g.Totals.Opened);
    }

    [Fact]
    public void The_server_socket_before_its_first_byte_takes_its_owner_from_accept()
    {
        var (b, _) = New();
        var client = Rows.Tcp(61, "127.0.0.1", 40100, "127.0.0.1", 80, 100, "curl", TopConnFlags.Active, 50, 0);
        var server = Rows.Tcp(62, "127.0.0.1", 80, "127.0.0.1", 40100, 0, "", TopConnFlags.Passive) with { OwnerStartNs = 0 };
        var accept = new SocketEvent { Kind = SocketEventKind.Accept, Pid = 201, Comm = "nginx", Cookie = 62, Family = Sock.AF_INET, Ret = 5, TsNs = S };
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, client, server), [accept], [], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("pid:100", e.From);
        Assert.Equal("pid:201", e.To);
    }

    [Fact]
    public void A_client_of_a_local_server_whose_socket_was_not_seen_goes_to_the_listener()
    {
        var (b, _) = New();
        var client = Rows.Tcp(71, "127.0.0.1", 40200, "127.0.0.1", 80, 100, "curl", TopConnFlags.Active, 50, 60);
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs, client), [], [Rows.Listen("tcp", "127.0.0.1", 80, 201, 200)], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("pid:200", e.To);
        Assert.True(e.Local);
    }

    [Fact]
    public void A_listener_makes_a_node_before_anyone_connects()
    {
        var (b, _) = New();
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs), [], [Rows.Listen("tcp", "0.0.0.0", 8443, 300)], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.ExeUser);
        MapNode n = Assert.Single(g.Nodes);
        Assert.Equal("python3.11 (alice)", n.Label);
        Assert.Equal("tcp *:8443", Assert.Single(n.Listening).Display);
        Assert.Empty(g.Edges);
    }

    [Fact]
    public void A_process_whose_executable_was_not_read_joins_the_group_of_its_name()
    {
        var (b, dir) = New();
        dir.Known.Remove(101); // gone before /proc was read
        FlowSet set = b.Update(Rows.Snap(2 * S, Procs,
            Rows.Tcp(81, "127.0.0.1", 40300, "127.0.0.1", 80, 100, "curl", TopConnFlags.Active, 1, 1),
            Rows.Tcp(82, "127.0.0.1", 40301, "127.0.0.1", 80, 101, "curl", TopConnFlags.Active, 1, 1)),
            [], [Rows.Listen("tcp", "127.0.0.1", 80, 200)], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.ExeUser);
        MapNode curl = Assert.Single(g.Nodes, n => n.Label == "curl (root)");
        Assert.Equal([100, 101], curl.Pids);
    }
}
