using System.Net;
using Sysstream.Aggregation;
using Sysstream.Events;

namespace Sysstream.Tests.Top;

/// <summary>Rows and snapshots for the top tests, and facts that need no /proc.</summary>
internal static class TopFixtures
{
    public const ulong Second = 1_000_000_000;

    public static ProcessTotals ProcRow(int pid, string comm, ulong tx = 0, ulong rx = 0, ulong exitNs = 0, ulong start = 1000,
        uint uid = 0, int ppid = 1, ulong connects = 0, ulong fails = 0, ulong resets = 0, ulong retrans = 0) => new()
        {
            Pid = pid,
            StartNs = start,
            Comm = comm,
            Uid = uid,
            Ppid = ppid,
            TxBytes = tx,
            RxBytes = rx,
            TxCalls = tx > 0 ? 1UL : 0,
            RxCalls = rx > 0 ? 1UL : 0,
            FirstNs = Second,
            LastNs = 2 * Second,
            ExitNs = exitNs,
            Connects = connects,
            ConnectFails = fails,
            Resets = resets,
            Retransmits = retrans,
        };

    public static ConnectionTotals Tcp(ulong cookie, int ownerPid, string local, ushort lport, string remote, ushort rport,
        ulong tx = 0, ulong rx = 0, byte state = 1, ulong closeNs = 0, ulong start = 1000, ulong firstNs = Second, string comm = "x") => new()
        {
            Cookie = cookie,
            Family = Sock.AF_INET,
            Protocol = Sock.IPPROTO_TCP,
            SocketType = 1,
            LocalAddress = IPAddress.Parse(local),
            LocalPort = lport,
            RemoteAddress = IPAddress.Parse(remote),
            RemotePort = rport,
            State = state,
            TxBytes = tx,
            RxBytes = rx,
            FirstNs = firstNs,
            LastNs = firstNs,
            CloseNs = closeNs,
            Flags = closeNs != 0 ? TopConnFlags.Closed : TopConnFlags.Established,
            OwnerPid = ownerPid,
            OwnerStartNs = start,
            OwnerComm = comm,
        };

    public static ConnectionTotals Udp(ulong cookie, int ownerPid, ushort lport, ulong tx = 0, ulong lastNs = Second, ulong start = 1000) => new()
    {
        Cookie = cookie,
        Family = Sock.AF_INET,
        Protocol = Sock.IPPROTO_UDP,
        SocketType = 2,
        LocalAddress = IPAddress.Any,
        LocalPort = lport,
        RemoteAddress = IPAddress.Any,
        RemotePort = 0,
        State = 7,
        TxBytes = tx,
        FirstNs = Second,
        LastNs = lastNs,
        OwnerPid = ownerPid,
        OwnerStartNs = start,
        OwnerComm = "udp",
    };

    public static TopSnapshot Snap(ulong takenNs, IReadOnlyList<ProcessTotals>? procs = null, IReadOnlyList<ConnectionTotals>? conns = null,
        RetiredTotals retired = default) => new()
        {
            TakenNs = takenNs,
            Processes = procs ?? [],
            Connections = conns ?? [],
            Retired = retired,
        };
}

internal sealed class FakeFacts : IProcessFacts
{
    public string UserName(uint uid) => uid == 0 ? "root" : "u" + uid;

    public string CommandLine(int pid, ulong startNs) => "cmd " + pid;
}

/// <summary>A scripted ITopSource: rows to return, and what was forgotten.</summary>
internal sealed class FakeSource : ITopSource
{
    public ulong Now { get; set; } = TopFixtures.Second;
    public List<ProcessTotals> Processes { get; } = new();
    public List<ConnectionTotals> Connections { get; } = new();
    public List<ProcessKey> ForgottenProcesses { get; } = new();
    public List<ulong> ForgottenConnections { get; } = new();
    public List<PeerTotals> Peers { get; } = new();
    public List<PeerTotals> ForgottenPeers { get; } = new();

    public ulong NowNs() => Now;

    public void ReadProcesses(List<ProcessTotals> into) => into.AddRange(Processes);

    public void ReadConnections(List<ConnectionTotals> into) => into.AddRange(Connections);

    public void ForgetProcess(ProcessKey key)
    {
        ForgottenProcesses.Add(key);
        Processes.RemoveAll(p => p.Key == key);
    }

    public void ForgetConnection(ulong cookie)
    {
        ForgottenConnections.Add(cookie);
        Connections.RemoveAll(c => c.Cookie == cookie);
    }

    public void ReadPeers(List<PeerTotals> into) => into.AddRange(Peers);

    public void ForgetPeer(PeerTotals peer)
    {
        ForgottenPeers.Add(peer);
        Peers.Remove(peer);
    }
}
