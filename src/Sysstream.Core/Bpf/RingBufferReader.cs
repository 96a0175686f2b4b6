using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sysstream.Events;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>
/// Reads the ring buffer on one dedicated thread: libbpf hands each record as a pointer into the
/// shared mapping, the record is copied into the reorder buffer as the fixed struct it is (no
/// object per event), and records older than the reorder window go to the sink in timestamp order.
/// Stopping detaches the programs first, then drains everything still buffered: nothing is lost.
/// </summary>
public sealed unsafe class RingBufferReader : IDisposable
{
    private readonly TraceSession _session;
    private readonly IEventSink _sink;
    private readonly ReorderBuffer _reorder = new(16384);
    private readonly RecordDecoder _decoder;
    private readonly RingBufferHandle _rb;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stop;
    private Exception? _failure;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the reader thread has ended: after a stop request, or on a failure
    /// (for example stdout closed by `| head`).</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>How long a record is held for ordering, against the monotonic clock.</summary>
    public ulong ReorderWindowNs { get; init; } = 20_000_000;
    /// <summary>Poll timeout: with batched wake-ups this is how often the buffer is drained at low load.</summary>
    public int PollIntervalMs { get; init; } = 10;

    /// <summary>Nice value of the reader thread. Under CPU contention (the traced programs keep
    /// every CPU busy) a reader at the default priority falls behind and the kernel has to drop
    /// events; raised, it keeps up, and the traced programs pay for the events in time instead.
    /// Null: leave the priority alone.</summary>
    public int? ReaderNice { get; init; } = -10;

    /// <summary>During a long drain (a backlog), records due are released to the sink after this
    /// many: the reorder buffer, and so the reader's memory, stays bounded however far behind
    /// the reader is.</summary>
    public const int BatchRecords = 8192;

    // Set by the record callback when a batch is complete: it then returns a negative value,
    // which makes libbpf stop consuming (the record itself is consumed).
    private bool _batchFull;
    private int _sinceRelease;

    public long Records => _decoder.Records;
    public long Malformed => _decoder.Malformed;
    public long LostReported => _decoder.LostReported;
    /// <summary>Times the kernel woke the reader (enough bytes pending) and it found records.</summary>
    public long Wakeups { get; private set; }
    /// <summary>Poll-timer ticks that found records without a wake-up.</summary>
    public long TimerDrains { get; private set; }
    /// <summary>Records delivered per CPU (index: CPU number).</summary>
    public long[] PerCpu => _decoder.PerCpu;
    public long LateRecords => _reorder.LateRecords;

    /// <summary>Set when the reader thread stopped on an error; rethrown by <see cref="Join"/>.</summary>
    public Exception? Failure => _failure;

    public RingBufferReader(TraceSession session, IEventSink sink)
    {
        _session = session;
        _sink = sink;
        _decoder = new RecordDecoder(_reorder, Libbpf.libbpf_num_possible_cpus());
        _self = GCHandle.Alloc(this);
        nint rb = Libbpf.ring_buffer__new(session.RingBufferFd, &OnRecord, (void*)GCHandle.ToIntPtr(_self), null);
        if (rb == 0)
        {
            _self.Free();
            throw SysstreamException.FromErrno("opening the ring buffer", Marshal.GetLastPInvokeError());
        }
        _rb = new RingBufferHandle(rb);
        _thread = new Thread(Run) { Name = "sysstream-ringbuf", IsBackground = true };
    }

    public void Start() => _thread.Start();

    /// <summary>Asks the reader to detach, drain and stop; returns at once.</summary>
    public void RequestStop() => _stop = true;

    /// <summary>Waits until the reader has drained everything and stopped.</summary>
    public void Join()
    {
        _thread.Join();
        if (_failure is null)
            return;
        if (_failure is SysstreamException)
            throw _failure;
        if (_failure is IOException io)
            throw new SysstreamException($"writing output: {io.Message}", ExitCodes.IoError, inner: io);
        throw new SysstreamException($"reading events failed: {_failure.Message}", ExitCodes.Software, inner: _failure);
    }

    /// <summary>True when the output's reader went away (EPIPE, e.g. `| head`): a normal end.</summary>
    public bool OutputClosed => _failure is IOException { HResult: 32 } || (_failure is IOException io && io.Message.Contains("Broken pipe", StringComparison.Ordinal));

    private void Run()
    {
        nint rb = _rb.DangerousGetHandle();
        // Best effort: needs CAP_SYS_NICE to raise, which a tracer running as root has.
        if (ReaderNice is int nice)
            Libc.setpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid(), nice);
        try
        {
            while (!_stop && _failure is null)
            {
                long before = _decoder.Records;
                int n = Libbpf.ring_buffer__poll(rb, PollIntervalMs);
                bool woken = n > 0 || (n < 0 && _batchFull);
                // Without a wake-up, poll sees nothing: drain on every tick.
                Drain(rb);
                if (woken)
                    Wakeups++;
                else if (_decoder.Records > before)
                    TimerDrains++;
                ReleaseDue();
                _sink.Flush();
            }
            // Detach so no new records come, then drain what the kernel already wrote.
            _session.Detach();
            Drain(rb);
            _reorder.ReleaseAll(_sink);
            ReportUnannouncedLoss();
            _sink.Flush();
        }
        catch (Exception ex)
        {
            _failure ??= ex;
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    /// <summary>Consumes everything available, releasing what is due after every batch.</summary>
    private void Drain(nint rb)
    {
        while (_failure is null)
        {
            if (_batchFull)
            {
                _batchFull = false;
                ReleaseDue();
            }
            int m = Libbpf.ring_buffer__consume(rb);
            if (m >= 0 || !_batchFull)
                return;
        }
    }

    /// <summary>Releases, in timestamp order, the records older than the reorder window.</summary>
    private void ReleaseDue()
    {
        _sinceRelease = 0;
        ulong now = (ulong)Libc.ClockGettimeNs(Libc.CLOCK_MONOTONIC);
        if (now > ReorderWindowNs)
            _reorder.Release(now - ReorderWindowNs, _sink);
    }

    /// <summary>Losses not followed by any later record on their CPU are announced at the end.</summary>
    private void ReportUnannouncedLoss()
    {
        Stats[] stats = _session.ReadStats();
        ulong now = (ulong)Libc.ClockGettimeNs(Libc.CLOCK_MONOTONIC);
        for (int cpu = 0; cpu < stats.Length; cpu++)
        {
            if (stats[cpu].Unreported == 0)
                continue;
            var lost = new LostEvent { Type = (ushort)EventType.Lost, Cpu = (uint)cpu, TsNs = now, Count = stats[cpu].Unreported };
            _decoder.CountLost(lost.Count);
            _sink.OnLost(in lost);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnRecord(void* ctx, void* data, nuint size)
    {
        var reader = (RingBufferReader)GCHandle.FromIntPtr((nint)ctx).Target!;
        try
        {
            reader._decoder.Decode(new ReadOnlySpan<byte>(data, (int)size));
            if (++reader._sinceRelease < BatchRecords)
                return 0;
            reader._batchFull = true;
            return -1;
        }
        catch (Exception ex)
        {
            reader._failure ??= ex;
            return -1;
        }
    }

    public void Dispose()
    {
        _rb.Dispose();
        if (_self.IsAllocated)
            _self.Free();
    }
}
