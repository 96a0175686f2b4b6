using Sysstream.Aggregation;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Proc;

namespace Sysstream.Graph;

/// <summary>How the live map is set up.</summary>
public sealed record MapOptions
{
    public TraceFilter Filter { get; init; } = new();
    /// <summary>How often the kernel's totals are read and a new map is built.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Look up reverse-DNS names of remote addresses (in the background).</summary>
    public bool ResolveNames { get; init; } = true;
    public GroupBy GroupBy { get; init; } = GroupBy.ExeUser;
    /// <summary>Count unix-domain sockets too.</summary>
    public bool IncludeUnix { get; init; } = true;
    public bool Verbose { get; init; }
    /// <summary>Closed connections and exited processes stay in the kernel's maps this long.</summary>
    public TimeSpan Keep { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Where views get the live map from: the engine, or a fake in tests.</summary>
public interface IMapSource
{
    MapState Current { get; }
    event Action<MapState>? Updated;
    MapGraph Project(GroupBy groupBy);
    MapOptions Options { get; }
    IReadOnlyList<string> Attached { get; }
}

/// <summary>One tick's view: the flows, the map in the configured grouping, and top's frame.</summary>
public sealed class MapState
{
    public required long Sequence { get; init; }
    public required FlowSet Flows { get; init; }
    public required MapGraph Graph { get; init; }
    public required TopFrame Frame { get; init; }
}

/// <summary>
/// The live dependency map: top's in-kernel totals (bytes, state, owner per socket) plus the
/// trace object loaded for connect/accept/accept4/listen/close only (a call mask decided in the
/// kernel), sampled on a timer into immutable <see cref="MapState"/>s. One timer thread builds;
/// any thread reads <see cref="Current"/>. Disposing detaches and unloads everything.
/// </summary>
public sealed class MapEngine : IMapSource, IDisposable
{
    private readonly MapOptions _options;
    private readonly TopSession _top;
    private readonly TraceSession _trace;
    private readonly RingBufferReader _reader;
    private readonly SocketEventSink _sink;
    private readonly ProcessTable _table = new();
    private readonly ProcDirectory _directory;
    private readonly ListenerScanner _scanner = new();
    private readonly TopSampler _sampler;
    private readonly FlowBuilder _builder;
    private readonly IHostNames _names;
    private readonly EventClock _clock = EventClock.FromSystem();
    private readonly object _tickLock = new();
    private TopSnapshot _previous;
    private IReadOnlyList<ListenerInfo> _listeners = [];
    private LocalAddresses _local = LocalAddresses.FromSystem();
    private ulong _listenersAtNs;
    private long _sequence;
    private volatile MapState _current;

    /// <summary>Hooks attached by both objects.</summary>
    public IReadOnlyList<string> Attached { get; }

    /// <summary>Why unconnected UDP sockets get no edges on this kernel; null when they do.</summary>
    public string? UdpPeersProblem => _top.UdpPeersProblem;

    /// <summary>The latest state; never null (an empty map before the first tick).</summary>
    public MapState Current => _current;

    /// <summary>Raised on the timer thread after each new state.</summary>
    public event Action<MapState>? Updated;

    public MapOptions Options => _options;

    public IHostNames Names => _names;

    private MapEngine(MapOptions options, TopSession top, TraceSession trace, SocketEventSink sink, ProcDirectory directory)
    {
        _options = options;
        _top = top;
        _trace = trace;
        _sink = sink;
        _directory = directory;
        _reader = new RingBufferReader(trace, sink) { PollIntervalMs = 50 };
        _sampler = new TopSampler(top, options.Keep);
        _builder = new FlowBuilder(directory) { EphemeralPorts = _scanner.EphemeralPorts() };
        _names = options.ResolveNames ? new ReverseDns() : NoHostNames.Instance;
        _previous = _sampler.Baseline();
        Attached = top.Attached.Concat(trace.Attached).ToList();
        var flows = FlowSet.Empty(_previous.TakenNs, _clock.RealtimeOffsetNs);
        _current = new MapState
        {
            Sequence = 0,
            Flows = flows,
            Graph = GraphProjector.Project(flows, options.GroupBy),
            Frame = TopFrame.Empty,
        };
    }

    /// <summary>Checks the prerequisites, loads and attaches both objects, starts reading events.</summary>
    public static MapEngine Start(MapOptions options)
    {
        var directory = new ProcDirectory(new ProcessTable());
        var sink = new SocketEventSink(directory.Prefetch);
        TopSession? top = null;
        TraceSession? trace = null;
        try
        {
            // UDP peers: unconnected sockets (DNS clients, UDP servers) become edges too.
            top = TopSession.Start(new TopOptions { Filter = options.Filter, IncludeUnix = options.IncludeUnix, UdpPeers = true, UnixConnectCookies = true, Verbose = options.Verbose });
            trace = TraceSession.Start(new TraceOptions
            {
                Filter = options.Filter,
                NoEnter = true,
                Syscalls = SocketEventSink.Calls,
                RingBufferBytes = 2 * 1024 * 1024,
                // Wake the reader at every event: they are few (connects, not bytes), and a
                // short-lived client's /proc facts can only be read while it lives.
                WakeupBytes = 1,
                Verbose = options.Verbose,
            });
            var engine = new MapEngine(options, top, trace, sink, directory);
            engine._reader.Start();
            return engine;
        }
        catch
        {
            trace?.Dispose();
            top?.Dispose();
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Reads the kernel now and builds a new state (also called by the timer).</summary>
    public MapState Tick()
    {
        lock (_tickLock)
        {
            // Events first: every connect seen here already has its row in the maps read next.
            List<SocketEvent> events = _sink.Drain();
            TopSnapshot snapshot = _sampler.Sample();
            bool newListener = events.Any(e => e.Kind == SocketEventKind.Listen && e.Ret == 0);
            if (newListener || _listenersAtNs == 0 || snapshot.TakenNs - _listenersAtNs > 2_000_000_000UL)
            {
                _listeners = _scanner.Scan(_options.IncludeUnix);
                _local = LocalAddresses.FromSystem();
                _listenersAtNs = snapshot.TakenNs;
            }
            FlowSet flows = _builder.Update(snapshot, events, _listeners, _local, _clock.RealtimeOffsetNs, _sink.Dropped);
            TopFrame frame = FrameBuilder.Build(_previous, snapshot, new ProcFacts(_table));
            _previous = snapshot;
            var state = new MapState
            {
                Sequence = Interlocked.Increment(ref _sequence),
                Flows = flows,
                Graph = GraphProjector.Project(flows, _options.GroupBy, _names),
                Frame = frame,
            };
            _current = state;
            Updated?.Invoke(state);
            return state;
        }
    }

    /// <summary>The current map in another grouping.</summary>
    public MapGraph Project(GroupBy groupBy)
    {
        MapState s = _current;
        return groupBy == _options.GroupBy ? s.Graph : GraphProjector.Project(s.Flows, groupBy, _names);
    }

    /// <summary>Ticks every interval until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (_reader.Stopped.IsCompleted)
                    break;
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Completes when the event reader stopped on its own (a failure).</summary>
    public Task ReaderStopped => _reader.Stopped;

    public void Dispose()
    {
        _reader.RequestStop();
        try
        {
            _reader.Join();
        }
        catch (SysstreamException)
        {
        }
        _reader.Dispose();
        _trace.Dispose();
        _top.Dispose();
        _directory.Dispose();
        (_names as IDisposable)?.Dispose();
    }
}
