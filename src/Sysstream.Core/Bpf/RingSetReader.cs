using System.Runtime.InteropServices;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>Receives the records of several ring buffers on the one reader thread.</summary>
public interface IRingRecordHandler
{
    /// <summary>One record of ring <paramref name="ring"/> (the index in the reader's list), valid
    /// only during the call: copy what must be kept.</summary>
    void OnRecord(int ring, ReadOnlySpan<byte> record);

    /// <summary>After each round of draining every ring (every poll interval, or on a wake-up).</summary>
    void OnDrained();

    /// <summary>Once at the end, after the programs were detached and every ring was drained.</summary>
    void OnEnd();
}

/// <summary>
/// Reads several BPF ring buffers (one per BPF object: e.g. the tracer's and the capture's) on
/// one dedicated thread with one libbpf ring_buffer: one epoll, one poll loop, records handed
/// over in place. Stopping detaches the programs first (<c>detach</c>), then drains everything
/// still buffered, so nothing is lost.
/// </summary>
public sealed unsafe class RingSetReader : IDisposable
{
    private readonly IRingRecordHandler _handler;
    private readonly Action _detach;
    private readonly RingBufferHandle _rb;
    private readonly Thread _thread;
    private readonly GCHandle[] _contexts;
    private volatile bool _stop;
    private Exception? _failure;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Poll timeout: with batched wake-ups this is how often the rings are drained at low load.</summary>
    public int PollIntervalMs { get; init; } = 10;

    /// <summary>Nice value of the reader thread, as <see cref="RingBufferReader.ReaderNice"/>: under
    /// CPU contention a reader at the default priority falls behind and the kernel drops records.
    /// Null: leave the priority alone.</summary>
    public int? ReaderNice { get; init; } = -10;

    /// <summary>Records that reached the handler, per ring.</summary>
    public long[] Records { get; }

    public Exception? Failure => _failure;

    /// <summary>Completes when the reader thread has ended, on request or on a failure.</summary>
    public Task Ended => _ended.Task;

    /// <param name="handler">Gets every record, on the reader thread.</param>
    /// <param name="detach">Detaches every program whose ring is read (called on the reader thread before the final drain).</param>
    /// <param name="ringFds">The ring buffer maps, in the order of the ring index given to the handler.</param>
    public RingSetReader(IRingRecordHandler handler, Action detach, params int[] ringFds)
    {
        if (ringFds.Length == 0)
            throw new ArgumentException("no ring buffer to read", nameof(ringFds));
        _handler = handler;
        _detach = detach;
        Records = new long[ringFds.Length];
        _contexts = new GCHandle[ringFds.Length];
        nint rb = 0;
        try
        {
            for (int i = 0; i < ringFds.Length; i++)
            {
                _contexts[i] = GCHandle.Alloc(new RingContext(this, i));
                void* ctx = (void*)GCHandle.ToIntPtr(_contexts[i]);
                if (i == 0)
                {
                    rb = Libbpf.ring_buffer__new(ringFds[0], &OnRecord, ctx, null);
                    if (rb == 0)
                        throw SysstreamException.FromErrno("opening the ring buffer", Marshal.GetLastPInvokeError());
                }
                else
                {
                    int err = Libbpf.ring_buffer__add(rb, ringFds[i], &OnRecord, ctx);
                    if (err != 0)
                        throw SysstreamException.FromErrno("adding a ring buffer to the reader", err);
                }
            }
        }
        catch
        {
            if (rb != 0)
                Libbpf.ring_buffer__free(rb);
            FreeContexts();
            throw;
        }
        _rb = new RingBufferHandle(rb);
        _thread = new Thread(Run) { Name = "sysstream-ringbuf", IsBackground = true };
    }

    public void Start() => _thread.Start();

    /// <summary>Asks the reader to detach, drain and stop; returns at once.</summary>
    public void RequestStop() => _stop = true;

    /// <summary>Waits until the reader has drained everything and stopped; rethrows its failure.</summary>
    public void Join()
    {
        _thread.Join();
        if (_failure is not null)
            throw _failure is SysstreamException ? _failure : new SysstreamException($"reading events failed: {_failure.Message}", ExitCodes.Software, inner: _failure);
    }

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
                Libbpf.ring_buffer__poll(rb, PollIntervalMs);
                // Without a wake-up, poll sees nothing: drain on every tick.
                Libbpf.ring_buffer__consume(rb);
                if (_failure is not null)
                    break;
                _handler.OnDrained();
            }
            if (_failure is null)
            {
                // Detach so no new records come, then drain what the kernel already wrote.
                _detach();
                while (Libbpf.ring_buffer__consume(rb) > 0)
                {
                }
                _handler.OnEnd();
            }
        }
        catch (Exception ex)
        {
            _failure ??= ex;
        }
        finally
        {
            _ended.TrySetResult();
        }
    }

    private sealed class RingContext(RingSetReader reader, int index)
    {
        public RingSetReader Reader { get; } = reader;
        public int Index { get; } = index;
    }

    [UnmanagedCallersOnly]
    private static int OnRecord(void* ctx, void* data, nuint size)
    {
        var c = (RingContext)GCHandle.FromIntPtr((nint)ctx).Target!;
        try
        {
            c.Reader.Records[c.Index]++;
            c.Reader._handler.OnRecord(c.Index, new ReadOnlySpan<byte>(data, (int)size));
            return 0;
        }
        catch (Exception ex)
        {
            c.Reader._failure ??= ex;
            return -1;
        }
    }

    private void FreeContexts()
    {
        foreach (GCHandle h in _contexts)
        {
            if (h.IsAllocated)
                h.Free();
        }
    }

    public void Dispose()
    {
        _rb.Dispose();
        FreeContexts();
    }
}
