namespace Sysstream.Graph;

/// <summary>What one end of a flow is.</summary>
public enum EndpointKind : byte
{
    /// <summary>A process on this host.</summary>
    Process,
    /// <summary>An address that is not on this host.</summary>
    Remote,
    /// <summary>An address on this host with no process known behind it (a closed port, a peer not seen).</summary>
    Local,
}

/// <summary>
/// One end of a flow: a process (pid and start time), or an address. <see cref="Service"/> is the
/// server's port (or unix path) for the serving end, empty for a client address.
/// </summary>
public readonly record struct Endpoint(EndpointKind Kind, int Pid, ulong StartNs, string Address, string Service)
{
    public static Endpoint OfProcess(int pid, ulong startNs) => new(EndpointKind.Process, pid, startNs, "", "");

    public static Endpoint OfRemote(string address, string service) => new(EndpointKind.Remote, 0, 0, address, service);

    public static Endpoint OfLocal(string address, string service) => new(EndpointKind.Local, 0, 0, address, service);

    public override string ToString() => Kind switch
    {
        EndpointKind.Process => $"pid {Pid}",
        _ => Service.Length == 0 ? Address : Address + ":" + Service,
    };
}

/// <summary>Who talks to whom: client end, serving end, protocol and the service (port or unix path).</summary>
public readonly record struct FlowKey(Endpoint Client, Endpoint Server, string Proto, string Service);

/// <summary>One connection (or UDP association) as the map shows it: both ends joined when both are local.</summary>
public sealed record FlowConnection
{
    /// <summary>The client socket's cookie (the server's when the client is not on this host).</summary>
    public required ulong Id { get; init; }
    /// <summary>The other local socket's cookie (0: none seen).</summary>
    public ulong PeerId { get; init; }
    public required FlowKey Key { get; init; }
    /// <summary>"127.0.0.1:40022", "/run/x.sock" ...</summary>
    public string ClientAddress { get; init; } = "";
    public string ServerAddress { get; init; } = "";
    public int ClientPid { get; init; }
    public string ClientComm { get; init; } = "";
    public int ServerPid { get; init; }
    public string ServerComm { get; init; } = "";
    public string State { get; init; } = "";
    public bool Open { get; init; }
    public bool Failed { get; init; }
    /// <summary>Why the connect failed ("ECONNREFUSED"), when known.</summary>
    public string? Error { get; init; }
    /// <summary>Bytes the client sent, and bytes the server sent.</summary>
    public ulong BytesToServer { get; init; }
    public ulong BytesToClient { get; init; }
    /// <summary>UDP: datagrams each way (send and receive calls); null for other protocols.</summary>
    public ulong? DatagramsToServer { get; init; }
    public ulong? DatagramsToClient { get; init; }
    public double RateToServer { get; init; }
    public double RateToClient { get; init; }
    /// <summary>Time to establish the connection, microseconds, when known.</summary>
    public ulong? ConnectUs { get; init; }
    /// <summary>Smoothed TCP round-trip time, microseconds (0: none).</summary>
    public uint RttUs { get; init; }
    /// <summary>Request to first response byte, microseconds, when known.</summary>
    public ulong? FirstResponseUs { get; init; }
    /// <summary>CLOCK_MONOTONIC ns: opened and closed (0: open).</summary>
    public ulong OpenedNs { get; init; }
    public ulong ClosedNs { get; init; }
}

/// <summary>Totals of one flow since sysstream attached: connections that ended plus those still seen.</summary>
public sealed record Flow
{
    public required FlowKey Key { get; init; }
    public long Opened { get; init; }
    public long Open { get; init; }
    public long Failed { get; init; }
    /// <summary>Failed connects by error name.</summary>
    public IReadOnlyDictionary<string, long> Errors { get; init; } = new Dictionary<string, long>();
    public ulong BytesToServer { get; init; }
    public ulong BytesToClient { get; init; }
    /// <summary>UDP: datagrams each way; null for other protocols.</summary>
    public ulong? DatagramsToServer { get; init; }
    public ulong? DatagramsToClient { get; init; }
    public double RateToServer { get; init; }
    public double RateToClient { get; init; }
    public LatencySum Connect { get; init; }
    public LatencySum Rtt { get; init; }
    public LatencySum FirstResponse { get; init; }
    public ulong FirstNs { get; init; }
    public ulong LastNs { get; init; }
    /// <summary>Connections seen now, then the most recent ones that ended.</summary>
    public IReadOnlyList<FlowConnection> Connections { get; init; } = [];
}

/// <summary>Count, sum and maximum of latency samples in microseconds.</summary>
public readonly record struct LatencySum(long Count, double SumUs, ulong MaxUs)
{
    public double? AverageUs => Count > 0 ? SumUs / Count : null;

    public LatencySum Add(ulong us) => new(Count + 1, SumUs + us, Math.Max(MaxUs, us));

    public LatencySum Add(LatencySum other) => new(Count + other.Count, SumUs + other.SumUs, Math.Max(MaxUs, other.MaxUs));
}

/// <summary>
/// Everything the map knows at one moment: flows, the processes behind them, listening sockets.
/// Immutable; projected into a <see cref="MapGraph"/> for any grouping.
/// </summary>
public sealed class FlowSet
{
    /// <summary>CLOCK_MONOTONIC ns when taken.</summary>
    public required ulong TakenNs { get; init; }
    /// <summary>CLOCK_REALTIME minus CLOCK_MONOTONIC, ns: turns kernel times into wall-clock times.</summary>
    public long RealtimeOffsetNs { get; init; }
    public double IntervalSeconds { get; init; }
    public IReadOnlyList<Flow> Flows { get; init; } = [];
    /// <summary>Facts of every process that appears in a flow or holds a listener, by pid.</summary>
    public IReadOnlyDictionary<int, ProcessFact> Processes { get; init; } = new Dictionary<int, ProcessFact>();
    public IReadOnlyList<ListenerInfo> Listeners { get; init; } = [];
    /// <summary>Socket lifecycle events dropped because the queue was full (never silently).</summary>
    public long DroppedEvents { get; init; }

    public static FlowSet Empty(ulong takenNs, long realtimeOffsetNs = 0) => new() { TakenNs = takenNs, RealtimeOffsetNs = realtimeOffsetNs };

    /// <summary>Unix ns of a kernel (monotonic) time.</summary>
    public long WallNs(ulong monotonicNs) => (long)monotonicNs + RealtimeOffsetNs;
}
