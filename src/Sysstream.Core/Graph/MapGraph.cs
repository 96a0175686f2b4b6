using System.Text.Json.Serialization;

namespace Sysstream.Graph;

// The dependency map as views and exports see it. Property names become the documented JSON
// schema (snake_case, see README "map JSON schema") through MapJsonContext.

/// <summary>The whole map at one moment. Immutable.</summary>
public sealed record MapGraph
{
    /// <summary>Wall-clock time of the snapshot, RFC 3339 UTC.</summary>
    public required string Time { get; init; }
    /// <summary>Seconds over which the rates were measured (0 for the first snapshot).</summary>
    public double IntervalS { get; init; }
    public string GroupBy { get; init; } = "exe-user";
    public IReadOnlyList<MapNode> Nodes { get; init; } = [];
    public IReadOnlyList<MapEdge> Edges { get; init; } = [];
    public MapTotals Totals { get; init; } = new();
    /// <summary>Socket lifecycle events dropped because they came faster than they were read.</summary>
    public long DroppedEvents { get; init; }
}

/// <summary>An application (group of processes), a remote address, or a local address with no process known.</summary>
public sealed record MapNode
{
    public required string Id { get; init; }
    /// <summary>"process", "remote" or "local".</summary>
    public required string Kind { get; init; }
    public required string Label { get; init; }
    /// <summary>Reverse-DNS name of a remote address, when one resolved.</summary>
    public string? Name { get; init; }
    public string? Exe { get; init; }
    public string? Comm { get; init; }
    public string? User { get; init; }
    public string? Cgroup { get; init; }
    /// <summary>Remote and local nodes: the address, and the port for servers.</summary>
    public string? Address { get; init; }
    public int? Port { get; init; }
    public IReadOnlyList<int> Pids { get; init; } = [];
    public IReadOnlyList<MapProcess> Processes { get; init; } = [];
    public IReadOnlyList<MapListener> Listening { get; init; } = [];
    /// <summary>Process nodes: bytes their processes sent/received on all sockets; other nodes: over their edges.</summary>
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }
}

public sealed record MapProcess
{
    public required int Pid { get; init; }
    public string Comm { get; init; } = "";
    public string User { get; init; } = "";
    public string Exe { get; init; } = "";
    public string Cmdline { get; init; } = "";
    public bool Exited { get; init; }
}

public sealed record MapListener
{
    public required string Proto { get; init; }
    public string? Address { get; init; }
    public int? Port { get; init; }
    public string? Path { get; init; }
    /// <summary>"tcp 127.0.0.1:80", "unix /run/x.sock".</summary>
    public required string Display { get; init; }
    public IReadOnlyList<int> Pids { get; init; } = [];
}

/// <summary>Traffic from the side that connected (from) to the side that accepted (to).</summary>
public sealed record MapEdge
{
    public required string Id { get; init; }
    public required string From { get; init; }
    public required string To { get; init; }
    /// <summary>"tcp", "udp", "unix".</summary>
    public required string Proto { get; init; }
    /// <summary>Server ports (unix: paths).</summary>
    public IReadOnlyList<string> Ports { get; init; } = [];
    /// <summary>Both ends are processes on this host (the two sockets were joined).</summary>
    public bool Local { get; init; }
    public long Opened { get; init; }
    public long Open { get; init; }
    public long Failed { get; init; }
    /// <summary>Failed connects by error name ("ECONNREFUSED": 3).</summary>
    public IReadOnlyDictionary<string, long> Errors { get; init; } = new Dictionary<string, long>();
    public ulong BytesToServer { get; init; }
    public ulong BytesToClient { get; init; }
    /// <summary>UDP: datagrams the client sent and the server sent; null for other protocols.</summary>
    public ulong? DatagramsToServer { get; init; }
    public ulong? DatagramsToClient { get; init; }
    public double RateToServer { get; init; }
    public double RateToClient { get; init; }
    public MapLatency? ConnectUs { get; init; }
    public MapLatency? RttUs { get; init; }
    public MapLatency? FirstResponseUs { get; init; }
    public string? FirstSeen { get; init; }
    public string? LastSeen { get; init; }
    /// <summary>Connections of the edge: open ones first, then the most recent that ended.</summary>
    public IReadOnlyList<MapConnection> Connections { get; init; } = [];
}

public sealed record MapLatency
{
    public long Count { get; init; }
    public double Avg { get; init; }
    public ulong Max { get; init; }
}

public sealed record MapConnection
{
    /// <summary>Socket cookie of the client socket (the server's when the client is remote).</summary>
    public ulong Id { get; init; }
    public ulong PeerId { get; init; }
    public string Client { get; init; } = "";
    public string Server { get; init; } = "";
    public int? ClientPid { get; init; }
    public string? ClientComm { get; init; }
    public int? ServerPid { get; init; }
    public string? ServerComm { get; init; }
    public string State { get; init; } = "";
    public bool Open { get; init; }
    public bool Failed { get; init; }
    public string? Error { get; init; }
    public ulong BytesToServer { get; init; }
    public ulong BytesToClient { get; init; }
    public ulong? DatagramsToServer { get; init; }
    public ulong? DatagramsToClient { get; init; }
    public double RateToServer { get; init; }
    public double RateToClient { get; init; }
    public ulong? ConnectUs { get; init; }
    public uint? RttUs { get; init; }
    public ulong? FirstResponseUs { get; init; }
    public string? Opened { get; init; }
    public string? Closed { get; init; }
}

public sealed record MapTotals
{
    public int Nodes { get; init; }
    public int Edges { get; init; }
    public long Opened { get; init; }
    public long Open { get; init; }
    public long Failed { get; init; }
    public ulong BytesToServer { get; init; }
    public ulong BytesToClient { get; init; }
    public double RateToServer { get; init; }
    public double RateToClient { get; init; }
}

/// <summary>System.Text.Json source generation for the map (NativeAOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never, WriteIndented = false)]
[JsonSerializable(typeof(MapGraph))]
public sealed partial class MapJsonContext : JsonSerializerContext
{
}
