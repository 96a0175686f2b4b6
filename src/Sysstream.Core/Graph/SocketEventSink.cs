using System.Collections.Concurrent;
using System.Text;
using Sysstream.Aggregation;
using Sysstream.Events;

namespace Sysstream.Graph;

/// <summary>
/// Receives the connect/accept/listen/close returns of the trace object (loaded with a call mask,
/// so nothing else reaches user space) on the reader thread, and queues them for the map's timer.
/// Bounded: beyond <see cref="Capacity"/> pending events they are dropped and counted.
/// </summary>
public sealed class SocketEventSink : IEventSink
{
    private readonly ConcurrentQueue<SocketEvent> _queue = new();
    private readonly Dictionary<ulong, string> _comms = new();
    private readonly Action<int>? _onPid;
    private int _count;
    private long _dropped, _lost;

    /// <summary>Events held at most between two ticks.</summary>
    public int Capacity { get; init; } = 100_000;

    /// <summary>Events dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records the kernel dropped (ring buffer full).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <param name="onPid">Told the pid of every event (to read its /proc facts while it lives).</param>
    public SocketEventSink(Action<int>? onPid = null) => _onPid = onPid;

    /// <summary>The system calls the map needs, for <c>TraceOptions.Syscalls</c>.</summary>
    public static IReadOnlyList<Func> Calls { get; } = [Func.Connect, Func.Accept, Func.Accept4, Func.Listen, Func.Close];

    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        if (!ev.IsExit)
            return;
        SocketEventKind kind;
        switch (ev.FuncKind)
        {
            case Func.Connect: kind = SocketEventKind.Connect; break;
            case Func.Accept or Func.Accept4: kind = SocketEventKind.Accept; break;
            case Func.Listen: kind = SocketEventKind.Listen; break;
            case Func.Close: kind = SocketEventKind.Close; break;
            default: return;
        }
        if (kind == SocketEventKind.Close && ev.Sk.Cookie == 0)
            return; // a socket that never had a cookie was never counted
        if (Volatile.Read(ref _count) >= Capacity)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        bool inet = ev.Sk.IsInet;
        string? lpath = null, rpath = null;
        if (hasUnixPaths && ev.Sk.Family == Sock.AF_UNIX)
        {
            Span<byte> buf = stackalloc byte[UnixPaths.PathLength + 1];
            int n = unixPaths.WriteLocal(buf);
            lpath = n > 0 ? Encoding.UTF8.GetString(buf[..n]) : null;
            n = unixPaths.WriteRemote(buf);
            rpath = n > 0 ? Encoding.UTF8.GetString(buf[..n]) : null;
        }
        var e = new SocketEvent
        {
            Kind = kind,
            TsNs = ev.TsNs,
            Pid = (int)ev.Pid,
            Comm = Comm(ev.CommSpan),
            Uid = ev.Uid,
            Cookie = ev.Sk.Cookie,
            Family = ev.Sk.Family,
            Protocol = ev.Sk.Protocol,
            LocalAddress = inet ? Endpoints.Address(ev.Sk.LaddrBytes) : null,
            LocalPort = ev.Sk.Lport,
            RemoteAddress = inet ? Endpoints.Address(ev.Sk.RaddrBytes) : null,
            RemotePort = ev.Sk.Rport,
            LocalPath = lpath,
            RemotePath = rpath,
            Ret = ev.Ret,
            Error = ev.IsError ? Encoding.ASCII.GetString(Errno.Name(ev.ErrorNumber)) : null,
            DurationNs = ev.DurationNs,
        };
        _queue.Enqueue(e);
        Interlocked.Increment(ref _count);
        if (kind is SocketEventKind.Connect or SocketEventKind.Accept or SocketEventKind.Listen)
            _onPid?.Invoke(e.Pid);
    }

    /// <summary>Process names repeat: one string per distinct name (reader thread only).</summary>
    private string Comm(ReadOnlySpan<byte> bytes)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in bytes)
            h = (h ^ b) * 1099511628211UL;
        if (_comms.TryGetValue(h, out string? s))
            return s;
        s = Encoding.UTF8.GetString(bytes);
        if (_comms.Count > 4096)
            _comms.Clear();
        _comms[h] = s;
        return s;
    }

    public void OnLost(in LostEvent lost) => Interlocked.Add(ref _lost, (long)lost.Count);

    public void Flush()
    {
    }

    /// <summary>Takes every queued event (the map's timer thread).</summary>
    public List<SocketEvent> Drain()
    {
        var list = new List<SocketEvent>();
        while (_queue.TryDequeue(out SocketEvent? e))
        {
            list.Add(e);
            Interlocked.Decrement(ref _count);
        }
        return list;
    }
}
