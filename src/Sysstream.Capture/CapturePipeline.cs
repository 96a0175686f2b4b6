using Sysstream.Bpf;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Interop;
using Sysstream.Proc;

namespace Sysstream.Capture;

/// <summary>How a <see cref="CapturePipeline"/> is set up.</summary>
public sealed record CapturePipelineOptions
{
    public TraceFilter Filter { get; init; } = new();
    /// <summary>Capture only the processes added with <see cref="CapturePipeline.AddPid"/> and their descendants.</summary>
    public bool FollowChildren { get; init; }
    /// <summary>Bytes kept of each packet (lowered to fit the ring buffer).</summary>
    public uint SnapLength { get; init; } = CaptureSession.MaxSnapLength;
    /// <summary>Store the system calls of the captured processes too.</summary>
    public bool Syscalls { get; init; } = true;
    public uint RingBufferBytes { get; init; } = TraceOptions.DefaultRingBufferBytes;
    public bool Verbose { get; init; }
    /// <summary>The command line and version written into the session block.</summary>
    public string Arguments { get; init; } = "";
    public string Version { get; init; } = "";
}

/// <summary>
/// The whole capture, from the kernel to a pcapng stream: the packet hooks
/// (<see cref="CaptureSession"/>), the system-call hooks (<see cref="TraceSession"/>, unless
/// packets only), the file's start (<see cref="CaptureFile"/>), and one reader thread
/// (<see cref="RingSetReader"/>) handing both rings to a <see cref="CaptureRecorder"/> that writes
/// through a <see cref="PcapngWriter"/>. The sink is any stream: a file or standard output for
/// <c>capture</c>, a <see cref="CaptureWindow"/> for <c>serve --capture</c>.
/// Call <see cref="Stop"/> for a clean end (its failure is the caller's to report); disposing a
/// pipeline still running stops it first, quietly.
/// </summary>
public sealed class CapturePipeline : IDisposable
{
    private readonly CaptureSession _capture;
    private readonly TraceSession? _trace;
    private readonly Stream _output;
    private readonly PcapngWriter _writer;
    private readonly CaptureRecorder _recorder;
    private readonly RingSetReader _reader;

    private CapturePipeline(CaptureSession capture, TraceSession? trace, Stream output, PcapngWriter writer, CaptureRecorder recorder, RingSetReader reader)
    {
        _capture = capture;
        _trace = trace;
        _output = output;
        _writer = writer;
        _recorder = recorder;
        _reader = reader;
    }

    public CaptureSession Capture => _capture;
    public TraceSession? Trace => _trace;
    public PcapngWriter Writer => _writer;
    public CaptureCounters Counters => _recorder.Counters;

    /// <summary>Every hook attached: the packet hooks, then the system-call hooks.</summary>
    public IReadOnlyList<string> Attached => [.. _capture.Attached, .. _trace?.Attached ?? []];

    /// <summary>Completes when the reader thread has ended (on <see cref="Stop"/>, or on a failure).</summary>
    public Task Ended => _reader.Ended;

    /// <summary>
    /// Loads and attaches the hooks, then opens the output (so nothing is created when loading
    /// fails), writes the file's start and starts reading.
    /// </summary>
    /// <param name="openOutput">The pcapng sink; the pipeline owns it.</param>
    /// <exception cref="IOException">Writing the file's start failed.</exception>
    public static CapturePipeline Start(CapturePipelineOptions o, Func<Stream> openOutput)
    {
        var clock = EventClock.FromSystem();
        CaptureSession? capture = null;
        TraceSession? trace = null;
        Stream? output = null;
        PcapngWriter? writer = null;
        RingSetReader? reader = null;
        try
        {
            capture = CaptureSession.Start(new CaptureOptions
            {
                Filter = o.Filter,
                FollowChildren = o.FollowChildren,
                SnapLength = o.SnapLength,
                RingBufferBytes = o.RingBufferBytes,
                Verbose = o.Verbose,
                // with system calls, the tracer's hooks do the owner bookkeeping
                WithTracer = o.Syscalls,
            });
            trace = o.Syscalls ? TraceSession.Start(new TraceOptions
            {
                Filter = o.Filter,
                FollowChildren = o.FollowChildren,
                RingBufferBytes = o.RingBufferBytes,
                Verbose = o.Verbose,
                OwnersFor = capture,
            }) : null;

            output = openOutput();
            writer = new PcapngWriter(output, leaveOpen: true);
            CaptureFile.Begin(writer, clock, new CaptureDescription
            {
                Hostname = Environment.MachineName,
                Kernel = KernelRelease(),
                Arguments = o.Arguments,
                SnapLength = capture.SnapLength,
                Hooks = [.. capture.Attached, .. trace?.Attached ?? []],
                Syscalls = trace is not null,
                Version = o.Version,
            });
            writer.Flush();

            var contexts = new ProcessContexts(new ProcessTable());
            var interfaces = new InterfaceTable(writer, capture.SnapLength, NetnsInode.Own());
            int[] rings = trace is null ? [capture.RingBufferFd] : [trace.RingBufferFd, capture.RingBufferFd];
            TraceSession? t = trace;
            CaptureSession c = capture;
            var recorder = new CaptureRecorder(writer, clock, contexts, interfaces, c.TryGetOwner, new RecorderSettings
            {
                TraceRing = t is null ? -1 : 0,
                CaptureRing = t is null ? 0 : 1,
                ProcessFilter = o.FollowChildren || o.Filter.Pids.Count > 0 || o.Filter.Comms.Count > 0
                    || o.Filter.Uid is not null || o.Filter.CgroupPath is not null,
                TraceStats = t is null ? null : t.ReadStats,
                CaptureStats = c.ReadStats,
            }, () => (ulong)Libc.ClockGettimeNs(Libc.CLOCK_MONOTONIC));
            reader = new RingSetReader(recorder, () =>
            {
                c.Detach();
                t?.Detach();
            }, rings);
            reader.Start();
            return new CapturePipeline(capture, trace, output, writer, recorder, reader);
        }
        catch
        {
            reader?.Dispose();
            writer?.Dispose();
            CloseQuietly(output);
            trace?.Dispose();
            capture?.Dispose();
            throw;
        }
    }

    /// <summary>Adds a process (and its future descendants) to both hook sets.</summary>
    public void AddPid(int pid)
    {
        _capture.AddPid(pid, followChildren: true);
        _trace?.AddPid(pid, followChildren: true);
    }

    /// <summary>Detaches, drains what the kernel holds into the output, and waits for the reader;
    /// rethrows its failure (an <see cref="IOException"/> of the output comes as the inner exception).</summary>
    public void Stop()
    {
        _reader.RequestStop();
        _reader.Join();
    }

    /// <summary>Records the kernel dropped: packets and system calls.</summary>
    public (ulong Packets, ulong Syscalls) KernelLosses() => (
        _capture.ReadStats().Aggregate(0UL, (sum, st) => sum + st.Lost),
        _trace?.ReadStats().Aggregate(0UL, (sum, st) => sum + st.Lost) ?? 0);

    public static string KernelRelease()
    {
        try
        {
            return "Linux " + File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "Linux";
        }
    }

    /// <summary>Everything is flushed block by block as it is written, so a failure at close (a
    /// reader that went away) has been reported already: it must not hide the real one.</summary>
    private static void CloseQuietly(Stream? s)
    {
        try
        {
            s?.Dispose();
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        if (!_reader.Ended.IsCompleted)
        {
            _reader.RequestStop();
            try
            {
                _reader.Join();
            }
            catch (SysstreamException)
            {
            }
        }
        _reader.Dispose();
        _writer.Dispose();
        CloseQuietly(_output);
        _trace?.Dispose();
        _capture.Dispose();
    }
}
