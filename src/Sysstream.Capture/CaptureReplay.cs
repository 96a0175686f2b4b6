using System.Text;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Filters;

namespace Sysstream.Capture;

/// <summary>What reading a recording found.</summary>
public sealed class ReplayResult
{
    public long Blocks;
    public long Syscalls;
    public long SyscallsShown;
    public long LostSyscalls;
    public long LostPackets;
    public long Packets;
    public bool HasSession;
}

/// <summary>
/// Reads a pcapng file written by <c>sysstream capture</c> and hands its system calls, in file
/// order (the capture wrote them in timestamp order), to the same sinks a live trace uses, with
/// the capture's own clock so times print as they did then. Other blocks are counted and skipped.
/// </summary>
public static class CaptureReplay
{
    /// <param name="input">The file (or a pipe).</param>
    /// <param name="makeSink">Makes the sink once the capture's clock is known.</param>
    /// <param name="filter">Which system calls to hand over (null: all).</param>
    /// <exception cref="PcapngFormatException">Truncated or malformed: the offset says where.</exception>
    public static ReplayResult Replay(Stream input, Func<EventClock, IEventSink> makeSink, RecordingFilter? filter = null)
    {
        var result = new ReplayResult();
        var reader = new PcapngReader(input);
        IEventSink? sink = null;
        UnixPaths noPaths = default;
        try
        {
            while (reader.TryRead(out PcapngBlock block))
            {
                result.Blocks++;
                if (block.Type is BlockType.EnhancedPacket or BlockType.SimplePacket)
                {
                    result.Packets++;
                    continue;
                }
                if (!SysstreamBlocks.TryParse(in block, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload))
                    continue;
                switch (kind)
                {
                    case SysstreamBlockKind.Session:
                        if (sink is null)
                        {
                            sink = makeSink(new EventClock(SysstreamBlocks.ReadSession(payload).RealtimeOffsetNs));
                            result.HasSession = true;
                        }
                        break;
                    case SysstreamBlockKind.Syscall:
                    {
                        SyscallEvent ev = SysstreamBlocks.Read<SyscallEvent>(payload);
                        result.Syscalls++;
                        if (filter is null || filter.Matches(in ev))
                        {
                            sink ??= makeSink(new EventClock(0));
                            sink.OnSyscall(in ev, in noPaths, hasUnixPaths: false);
                            result.SyscallsShown++;
                        }
                        break;
                    }
                    case SysstreamBlockKind.SyscallUnix:
                    {
                        SyscallEventUnix ev = SysstreamBlocks.Read<SyscallEventUnix>(payload);
                        result.Syscalls++;
                        if (filter is null || filter.Matches(in ev.Ev))
                        {
                            sink ??= makeSink(new EventClock(0));
                            sink.OnSyscall(in ev.Ev, in ev.Paths, hasUnixPaths: true);
                            result.SyscallsShown++;
                        }
                        break;
                    }
                    case SysstreamBlockKind.LostSyscalls:
                    {
                        LostEvent lost = SysstreamBlocks.Read<LostEvent>(payload);
                        result.LostSyscalls += (long)lost.Count;
                        sink ??= makeSink(new EventClock(0));
                        sink.OnLost(in lost);
                        break;
                    }
                    case SysstreamBlockKind.LostPackets:
                        result.LostPackets += (long)SysstreamBlocks.Read<LostEvent>(payload).Count;
                        break;
                }
            }
        }
        finally
        {
            sink?.Flush();
        }
        sink ??= makeSink(new EventClock(0));
        sink.Flush();
        return result;
    }
}

/// <summary>
/// The filters of <c>trace</c> applied to recorded system calls in user space (the kernel's
/// versions work on live processes): pid, comm, uid, port, address, family, protocol, system
/// call names, --no-enter.
/// </summary>
public sealed class RecordingFilter
{
    private readonly TraceFilter _f;
    private readonly HashSet<int> _pids;
    private readonly List<byte[]> _comms;
    private readonly bool _noEnter;
    private readonly HashSet<Func> _funcs;

    public RecordingFilter(TraceFilter filter, bool noEnter, IReadOnlyList<Func>? syscalls = null)
    {
        if (filter.CgroupPath is not null)
            throw new SysstreamException("--cgroup cannot filter a recording: it names a live cgroup", ExitCodes.Usage,
                "filter by --pid, --comm or --uid instead");
        _f = filter;
        _pids = filter.Pids.ToHashSet();
        _comms = filter.Comms.Select(c => Encoding.UTF8.GetBytes(c)).ToList();
        _noEnter = noEnter;
        _funcs = (syscalls ?? []).ToHashSet();
    }

    public bool IsEmpty => _f.IsEmpty && !_noEnter && _funcs.Count == 0;

    public bool Matches(in SyscallEvent ev)
    {
        if (_noEnter && !ev.IsExit)
            return false;
        if (_funcs.Count > 0 && !_funcs.Contains(ev.FuncKind))
            return false;
        if (_pids.Count > 0 && !_pids.Contains((int)ev.Pid))
            return false;
        if (_f.Uid is { } uid && ev.Uid != uid)
            return false;
        if (_comms.Count > 0)
        {
            ReadOnlySpan<byte> comm = ev.CommSpan;
            bool any = false;
            foreach (byte[] c in _comms)
                any |= comm.SequenceEqual(c);
            if (!any)
                return false;
        }
        ref readonly Sock sk = ref ev.Sk;
        if (_f.Family is { } fam && sk.Family != fam)
            return false;
        if (_f.Protocol is { } proto && sk.Protocol != proto)
            return false;
        if (_f.Ports.Count > 0 && !_f.Ports.Contains(sk.Lport) && !_f.Ports.Contains(sk.Rport))
            return false;
        if (_f.Addresses.Count > 0)
        {
            bool any = false;
            foreach (byte[] a in _f.Addresses)
                any |= sk.LaddrBytes.SequenceEqual(a) || sk.RaddrBytes.SequenceEqual(a);
            if (!any)
                return false;
        }
        return true;
    }
}
