using System.Net;
using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Graph;
using Xunit;

namespace Sysstream.Tests.Map;

/// <summary>Unix connects whose socket got its cookie inside connect(): the event and the socket's
/// row are one connection, which gets the row's bytes.</summary>
public sealed class UnixCookieTests
{
    private const ulong S = Rows.S;

    private static ConnectionTotals UnixRow(ulong cookie, int pid, ulong tx, ulong rx) => new()
    {
        Cookie = cookie,
        Family = Sock.AF_UNIX,
        SocketType = 1,
        State = 1,
        TxBytes = tx,
        RxBytes = rx,
        FirstNs = 2 * S,
        LastNs = 2 * S,
        OwnerPid = pid,
        OwnerStartNs = (ulong)pid * 1000,
        OwnerComm = "python3",
    };

    [Fact]
    public void A_unix_connect_with_a_cookie_gets_the_bytes_of_its_socket_and_is_counted_once()
    {
        var dir = new FakeDirectory();
        var b = new FlowBuilder(dir);
        ProcessTotals[] procs = [Rows.Proc(300, "python3"), Rows.Proc(200, "server")];
        var listener = new ListenerInfo { Proto = "unix", Path = "/run/app.sock", Pids = [200] };
        var connect = new SocketEvent
        {
            Kind = SocketEventKind.Connect, Pid = 300, Comm = "python3", Cookie = 77, Family = Sock.AF_UNIX,
            RemotePath = "/run/app.sock", Ret = 0, TsNs = 1 * S,
        };

        // connected, no byte yet: known from the event only
        FlowSet first = b.Update(new TopSnapshot { TakenNs = 2 * S, Processes = procs }, [connect], [listener], LocalAddresses.LoopbackOnly);
        MapEdge e1 = Assert.Single(GraphProjector.Project(first, GroupBy.Pid).Edges);
        Assert.Equal("pid:300", e1.From);
        Assert.Equal("pid:200", e1.To);
        Assert.Equal(1, e1.Open);
        // still nothing moved a tick later: still one open connection, not a second one
        FlowSet idle = b.Update(new TopSnapshot { TakenNs = 3 * S, Processes = procs }, [], [listener], LocalAddresses.LoopbackOnly);
        Assert.Equal(1, Assert.Single(GraphProjector.Project(idle, GroupBy.Pid).Edges).Opened);

        // the socket moved bytes: its row carries them
        FlowSet second = b.Update(new TopSnapshot { TakenNs = 4 * S, Processes = procs, Connections = [UnixRow(77, 300, 120, 4500)] },
            [], [listener], LocalAddresses.LoopbackOnly);
        MapEdge e2 = Assert.Single(GraphProjector.Project(second, GroupBy.Pid).Edges);
        Assert.Equal("unix", e2.Proto);
        Assert.Equal(["/run/app.sock"], e2.Ports);
        Assert.Equal(1, e2.Opened);
        Assert.Equal(120UL, e2.BytesToServer);
        Assert.Equal(4500UL, e2.BytesToClient);
        Assert.Null(e2.DatagramsToServer);

        // the row is gone: the totals stay, counted once
        FlowSet gone = b.Update(new TopSnapshot { TakenNs = 90 * S, Processes = procs }, [], [listener], LocalAddresses.LoopbackOnly);
        MapEdge e3 = Assert.Single(GraphProjector.Project(gone, GroupBy.Pid).Edges);
        Assert.Equal(1, e3.Opened);
        Assert.Equal(120UL, e3.BytesToServer);
        Assert.Equal(4500UL, e3.BytesToClient);
    }
}
