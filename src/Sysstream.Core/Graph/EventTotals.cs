using Sysstream.Aggregation;
using Sysstream.Events;

namespace Sysstream.Graph;

/// <summary>
/// Totals per socket and per process added up from recorded system calls (a capture file), in the
/// shape top's maps give them live, plus the socket lifecycle events: the same
/// <see cref="FlowBuilder"/> then makes the map. Also measures, per socket, the time from the
/// first request byte sent to the first response byte received (client) or from the first
/// request byte received to the first response byte sent (server).
/// </summary>
public sealed class EventTotals : IEventSink
{
    private readonly SocketEventSink _events = new() { Capacity = int.MaxValue };
    private readonly Dictionary<ulong, Acc> _socks = new();
    private readonly Dictionary<int, ProcAcc> _procs = new();
    private ulong _lastNs;

    private sealed class Acc
    {
        public ushort Family, Protocol, Type;
        public byte[] Laddr = new byte[16], Raddr = new byte[16];
        public ushort Lport, Rport;
        public byte State;
        public TopConnFlags Flags;
        public ulong Tx, Rx, TxCalls, RxCalls, FirstNs, LastNs, CloseNs;
        public int Pid;
        public uint Uid;
        public string Comm = "";
        public ulong FirstTxNs, FirstRxNs;
    }

    private sealed class ProcAcc
    {
        public string Comm = "";
        public uint Uid, Gid;
        public int Ppid;
        public ulong Tx, Rx, FirstNs, LastNs;
    }

    public long Syscalls { get; private set; }

    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        Syscalls++;
        _lastNs = Math.Max(_lastNs, ev.TsNs);
        if (!ev.IsExit)
            return;
        _events.OnSyscall(in ev, in unixPaths, hasUnixPaths);
        ulong cookie = ev.Sk.Cookie;
        Func f = ev.FuncKind;
        var p = Proc((int)ev.Pid, in ev);
        if (cookie == 0 || !ev.HasFlag(EventFlags.Sock))
            return;
        if (!_socks.TryGetValue(cookie, out Acc? a))
        {
            _socks[cookie] = a = new Acc { Pid = (int)ev.Pid, Uid = ev.Uid, Comm = Encoding(ev.CommSpan), FirstNs = ev.TsNs };
        }
        a.Family = ev.Sk.Family;
        a.Protocol = ev.Sk.Protocol;
        a.Type = ev.Sk.Type;
        a.State = ev.Sk.State;
        if (ev.Sk.Lport != 0 || a.Lport == 0)
        {
            ev.Sk.LaddrBytes.CopyTo(a.Laddr);
            a.Lport = ev.Sk.Lport;
        }
        if (ev.Sk.Rport != 0 && !ev.HasFlag(EventFlags.PeerFromArgs))
        {
            ev.Sk.RaddrBytes.CopyTo(a.Raddr);
            a.Rport = ev.Sk.Rport;
        }
        else if (f == Func.Connect && ev.Sk.Rport != 0 && a.Rport == 0)
        {
            ev.Sk.RaddrBytes.CopyTo(a.Raddr);
            a.Rport = ev.Sk.Rport;
        }
        switch (f)
        {
            case Func.Connect:
                a.Flags |= TopConnFlags.Active;
                a.Pid = (int)ev.Pid;
                a.Comm = Encoding(ev.CommSpan);
                a.FirstNs = Math.Min(a.FirstNs, ev.TsNs - Math.Min(ev.TsNs, ev.DurationNs));
                if (ev.IsError && ev.ErrorNumber is not (115 or 114 or 11 or 4)) // EINPROGRESS EALREADY EAGAIN EINTR
                    a.Flags |= TopConnFlags.Failed | TopConnFlags.Closed;
                else
                    a.Flags |= TopConnFlags.Established;
                break;
            case Func.Accept or Func.Accept4:
                a.Flags |= TopConnFlags.Passive | TopConnFlags.Established;
                a.Pid = (int)ev.Pid;
                a.Comm = Encoding(ev.CommSpan);
                break;
            case Func.Close:
                a.CloseNs = ev.TsNs;
                a.Flags |= TopConnFlags.Closed;
                break;
        }
        if (ev.TryGetBytes(out ulong bytes) && bytes > 0)
        {
            bool send = f.IsSend() || (f == Func.Splice && ev.Sk.Cookie != 0 && ev.Fd == (int)ev.Arg);
            if (send)
            {
                a.Tx += bytes;
                a.TxCalls++;
                p.Tx += bytes;
                if (a.FirstTxNs == 0)
                    a.FirstTxNs = ev.TsNs;
            }
            else
            {
                a.Rx += bytes;
                a.RxCalls++;
                p.Rx += bytes;
                if (a.FirstRxNs == 0)
                    a.FirstRxNs = ev.TsNs;
            }
            a.LastNs = ev.TsNs;
            p.LastNs = ev.TsNs;
        }
    }

    private ProcAcc Proc(int pid, in SyscallEvent ev)
    {
        if (!_procs.TryGetValue(pid, out ProcAcc? p))
            _procs[pid] = p = new ProcAcc { FirstNs = ev.TsNs };
        p.Comm = Encoding(ev.CommSpan);
        p.Uid = ev.Uid;
        p.Gid = ev.Gid;
        p.Ppid = (int)ev.Ppid;
        p.LastNs = Math.Max(p.LastNs, ev.TsNs);
        return p;
    }

    private static string Encoding(ReadOnlySpan<byte> s) => System.Text.Encoding.UTF8.GetString(s);

    public void OnLost(in LostEvent lost) => _events.OnLost(in lost);

    public void Flush()
    {
    }

    /// <summary>Request to first response per socket cookie, in microseconds.</summary>
    public IReadOnlyDictionary<ulong, ulong> FirstResponseUs()
    {
        var result = new Dictionary<ulong, ulong>();
        foreach ((ulong cookie, Acc a) in _socks)
        {
            if (a.FirstTxNs == 0 || a.FirstRxNs == 0)
                continue;
            bool client = (a.Flags & TopConnFlags.Passive) == 0;
            // client: first byte sent -> first byte received after it; server: the reverse
            (ulong request, ulong response) = client ? (a.FirstTxNs, a.FirstRxNs) : (a.FirstRxNs, a.FirstTxNs);
            if (response > request)
                result[cookie] = (response - request) / 1000;
        }
        return result;
    }

    /// <summary>The totals as one snapshot taken at the last recorded event.</summary>
    public TopSnapshot Snapshot()
    {
        var conns = new List<ConnectionTotals>(_socks.Count);
        foreach ((ulong cookie, Acc a) in _socks)
        {
            if (a.Family is not (Sock.AF_INET or Sock.AF_INET6 or Sock.AF_UNIX))
                continue;
            bool inet = a.Family != Sock.AF_UNIX;
            conns.Add(new ConnectionTotals
            {
                Cookie = cookie,
                Family = a.Family,
                Protocol = a.Protocol,
                SocketType = a.Type,
                LocalAddress = inet ? Endpoints.Address(a.Laddr) : null,
                LocalPort = a.Lport,
                RemoteAddress = inet ? Endpoints.Address(a.Raddr) : null,
                RemotePort = a.Rport,
                State = (a.Flags & TopConnFlags.Closed) != 0 ? (byte)7 : a.State,
                Flags = a.Flags,
                TxBytes = a.Tx,
                RxBytes = a.Rx,
                TxCalls = a.TxCalls,
                RxCalls = a.RxCalls,
                FirstNs = a.FirstNs,
                LastNs = a.LastNs,
                CloseNs = a.CloseNs,
                OwnerPid = a.Pid,
                OwnerUid = a.Uid,
                OwnerComm = a.Comm,
            });
        }
        var procs = _procs.Select(kv => new ProcessTotals
        {
            Pid = kv.Key,
            Comm = kv.Value.Comm,
            Uid = kv.Value.Uid,
            Gid = kv.Value.Gid,
            Ppid = kv.Value.Ppid,
            TxBytes = kv.Value.Tx,
            RxBytes = kv.Value.Rx,
            FirstNs = kv.Value.FirstNs,
            LastNs = kv.Value.LastNs,
        }).ToList();
        return new TopSnapshot { TakenNs = _lastNs + 1, Processes = procs, Connections = conns };
    }

    /// <summary>The connect/accept/listen/close events seen, in order.</summary>
    public List<SocketEvent> Events() => _events.Drain();
}
