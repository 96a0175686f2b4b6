using System.Net;
using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Graph;
using Xunit;

namespace Sysstream.Tests.Map;

/// <summary>
/// Unconnected UDP sockets in the map: the kernel's per-peer rows become connections, directed from
/// the side that sent first; two local ends are joined by their ports although the client's socket
/// knows no local address.
/// </summary>
public sealed class UdpPeerTests
{
    private const ulong S = Rows.S;

    private static FlowBuilder New()
    {
        var dir = new FakeDirectory();
        dir.Known[200] = ("/usr/sbin/unbound", "unbound", "/system.slice/unbound.service");
        dir.Known[300] = ("/usr/bin/python3.11", "alice", "/user.slice");
        return new FlowBuilder(dir);
    }

    private static readonly ProcessTotals[] Procs = [Rows.Proc(200, "unbound", 101), Rows.Proc(300, "python3", 1000)];

    /// <summary>An unconnected UDP socket's own row: local end and owner, no peer.</summary>
    internal static ConnectionTotals Socket(ulong cookie, string la, ushort lp, int pid, string comm, bool v6 = false) => new()
    {
        Cookie = cookie,
        Family = v6 ? Sock.AF_INET6 : Sock.AF_INET,
        Protocol = Sock.IPPROTO_UDP,
        SocketType = 2,
        LocalAddress = IPAddress.Parse(la),
        LocalPort = lp,
        RemoteAddress = v6 ? IPAddress.IPv6Any : IPAddress.Any,
        State = 7,
        FirstNs = 1 * S,
        LastNs = 1 * S,
        OwnerPid = pid,
        OwnerStartNs = (ulong)pid * 1000,
        OwnerComm = comm,
    };

    internal static PeerTotals Peer(ulong cookie, string addr, ushort port, bool sentFirst, ulong tx, ulong txd, ulong rx, ulong rxd, ulong last = 1 * S) => new()
    {
        Cookie = cookie,
        Address = IPAddress.Parse(addr),
        Port = port,
        SentFirst = sentFirst,
        TxBytes = tx,
        TxDatagrams = txd,
        RxBytes = rx,
        RxDatagrams = rxd,
        FirstNs = 1 * S,
        LastNs = last,
    };

    private static TopSnapshot Snap(ulong at, ConnectionTotals[] conns, params PeerTotals[] peers) =>
        new() { TakenNs = at, Processes = Procs, Connections = conns, Peers = peers };

    [Theory]
    [InlineData("0.0.0.0", "127.0.0.1")]
    [InlineData("::", "::1")]
    public void A_local_client_and_server_are_one_edge_from_the_sender_with_datagrams_each_way(string any, string loop)
    {
        FlowBuilder b = New();
        bool v6 = any == "::";
        ConnectionTotals[] conns =
        [
            Socket(1, any, 40000, 300, "python3", v6),  // client: sendto without bind or connect
            Socket(2, loop, 5353, 200, "unbound", v6),  // server: bound, unconnected
        ];
        FlowSet set = b.Update(Snap(2 * S, conns,
            Peer(1, loop, 5353, sentFirst: true, tx: 600, txd: 3, rx: 90, rxd: 3),
            Peer(2, loop, 40000, sentFirst: false, tx: 90, txd: 3, rx: 600, rxd: 3)),
            [], [Rows.Listen("udp", loop, 5353, 200)], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.Pid);

        MapEdge e = Assert.Single(g.Edges);
        Assert.Equal("pid:300", e.From);
        Assert.Equal("pid:200", e.To);
        Assert.Equal("udp", e.Proto);
        Assert.Equal(["5353"], e.Ports);
        Assert.True(e.Local);
        Assert.Equal(1, e.Opened);
        Assert.Equal(600UL, e.BytesToServer);
        Assert.Equal(90UL, e.BytesToClient);
        Assert.Equal(3UL, e.DatagramsToServer);
        Assert.Equal(3UL, e.DatagramsToClient);
        Assert.Null(e.ConnectUs);
        MapConnection c = Assert.Single(e.Connections);
        Assert.Equal(300, c.ClientPid);
        Assert.Equal(200, c.ServerPid);
        Assert.Equal("UNCONN", c.State);
        Assert.True(c.Id >= FlowBuilder.AssociationIdBase);
        Assert.NotEqual(0UL, c.PeerId);
        Assert.Equal(loop.Contains(':') ? "[::1]:5353" : "127.0.0.1:5353", c.Server);
    }

    [Fact]
    public void A_client_of_a_remote_server_is_an_edge_to_its_address_and_port()
    {
        FlowBuilder b = New();
        FlowSet set = b.Update(Snap(2 * S, [Socket(1, "0.0.0.0", 41000, 300, "python3")],
            Peer(1, "9.9.9.9", 53, sentFirst: true, tx: 40, txd: 1, rx: 120, rxd: 1),
            Peer(1, "1.1.1.1", 53, sentFirst: true, tx: 40, txd: 1, rx: 0, rxd: 0)),
            [], [], LocalAddresses.LoopbackOnly);
        MapGraph g = GraphProjector.Project(set, GroupBy.Pid);

        Assert.Equal(2, g.Edges.Count);
        MapEdge quad9 = Assert.Single(g.Edges, e => e.To == "remote:9.9.9.9:53");
        Assert.Equal("pid:300", quad9.From);
        Assert.False(quad9.Local);
        Assert.Equal(40UL, quad9.BytesToServer);
        Assert.Equal(120UL, quad9.BytesToClient);
        Assert.Equal(1UL, quad9.DatagramsToClient);
        MapEdge cf = Assert.Single(g.Edges, e => e.To == "remote:1.1.1.1:53");
        Assert.Equal(0UL, cf.DatagramsToClient);
        // the two peers of one socket are two connections with ids of their own
        Assert.NotEqual(quad9.Connections[0].Id, cf.Connections[0].Id);
    }

    [Fact]
    public void A_remote_client_of_a_local_server_is_an_edge_from_its_address()
    {
        FlowBuilder b = New();
        FlowSet set = b.Update(Snap(2 * S, [Socket(2, "0.0.0.0", 53, 200, "unbound")],
            Peer(2, "203.0.113.7", 33333, sentFirst: false, tx: 100, txd: 1, rx: 30, rxd: 1)),
            [], [Rows.Listen("udp", "0.0.0.0", 53, 200)], LocalAddresses.LoopbackOnly);
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("remote:203.0.113.7", e.From);
        Assert.Equal("pid:200", e.To);
        Assert.Equal(["53"], e.Ports);
        Assert.Equal(30UL, e.BytesToServer);
        Assert.Equal(100UL, e.BytesToClient);
        Assert.Equal(1UL, e.DatagramsToServer);
    }

    [Fact]
    public void A_peer_row_the_kernel_forgot_keeps_its_totals_in_the_edge()
    {
        FlowBuilder b = New();
        ConnectionTotals[] conns = [Socket(1, "0.0.0.0", 40000, 300, "python3"), Socket(2, "127.0.0.1", 5353, 200, "unbound")];
        b.Update(Snap(2 * S, conns,
            Peer(1, "127.0.0.1", 5353, true, 100, 1, 10, 1),
            Peer(2, "127.0.0.1", 40000, false, 10, 1, 100, 1)), [], [], LocalAddresses.LoopbackOnly);
        FlowSet second = b.Update(Snap(4 * S, conns,
            Peer(1, "127.0.0.1", 5353, true, 300, 3, 30, 3, last: 3 * S),
            Peer(2, "127.0.0.1", 40000, false, 30, 3, 300, 3, last: 3 * S)), [], [], LocalAddresses.LoopbackOnly);
        MapEdge live = Assert.Single(GraphProjector.Project(second, GroupBy.Pid).Edges);
        Assert.Equal(100.0, live.RateToServer); // 200 bytes in 2 s, same connection id
        Assert.Equal(1, live.Opened);

        FlowSet gone = b.Update(Snap(30 * S, conns), [], [], LocalAddresses.LoopbackOnly);
        MapEdge after = Assert.Single(GraphProjector.Project(gone, GroupBy.Pid).Edges);
        Assert.Equal(1, after.Opened);
        Assert.Equal(300UL, after.BytesToServer);
        Assert.Equal(30UL, after.BytesToClient);
        Assert.Equal(3UL, after.DatagramsToServer);
        Assert.Equal(3UL, after.DatagramsToClient);
    }

    [Fact]
    public void Peers_of_a_socket_whose_row_is_gone_are_left_out()
    {
        FlowBuilder b = New();
        FlowSet set = b.Update(Snap(2 * S, [], Peer(9, "127.0.0.1", 53, true, 1, 1, 0, 0)), [], [], LocalAddresses.LoopbackOnly);
        Assert.Empty(set.Flows);
    }

    [Fact]
    public void Tcp_edges_have_no_datagram_counts_in_json()
    {
        FlowBuilder b = New();
        var tcp = Rows.Tcp(5, "127.0.0.1", 40000, "127.0.0.1", 80, 300, "python3", TopConnFlags.Active, 1, 2);
        FlowSet set = b.Update(Snap(2 * S, [tcp, Socket(1, "0.0.0.0", 41000, 300, "python3")],
            Peer(1, "9.9.9.9", 53, true, 40, 1, 120, 1)), [], [], LocalAddresses.LoopbackOnly);
        using JsonDocument doc = JsonDocument.Parse(GraphWriters.Json(GraphProjector.Project(set, GroupBy.Pid)));
        var edges = doc.RootElement.GetProperty("edges").EnumerateArray().ToList();
        JsonElement tcpEdge = edges.Single(e => e.GetProperty("proto").GetString() == "tcp");
        JsonElement udpEdge = edges.Single(e => e.GetProperty("proto").GetString() == "udp");
        Assert.Equal(JsonValueKind.Null, tcpEdge.GetProperty("datagrams_to_server").ValueKind);
        Assert.Equal(1, udpEdge.GetProperty("datagrams_to_server").GetInt64());
        Assert.Equal(1, udpEdge.GetProperty("datagrams_to_client").GetInt64());
        Assert.Equal(1, udpEdge.GetProperty("connections")[0].GetProperty("datagrams_to_client").GetInt64());
    }

    [Fact]
    public unsafe void A_kernel_row_becomes_peer_totals_with_ipv4_shown_plainly()
    {
        var key = new TopPeerKey { Cookie = 7, Port = 53 };
        byte[] mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3];
        for (int i = 0; i < 16; i++)
            key.Addr[i] = mapped[i];
        var value = new TopPeer { TxBytes = 5, TxDgrams = 1, RxBytes = 9, RxDgrams = 2, FirstNs = 3, LastNs = 4, Flags = (uint)TopPeerFlags.SentFirst };
        PeerTotals p = PeerTotals.From(key, value);
        Assert.Equal(IPAddress.Parse("10.1.2.3"), p.Address);
        Assert.Equal((ushort)53, p.Port);
        Assert.True(p.SentFirst);
        Assert.Equal(2UL, p.RxDatagrams);
        Assert.False(PeerTotals.From(key, value with { Flags = (uint)TopPeerFlags.ReceivedFirst }).SentFirst);
    }
}
