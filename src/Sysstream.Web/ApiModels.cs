using System.Text.Json.Serialization;
using Sysstream.Aggregation;

namespace Sysstream.Web;

// The JSON of /api/processes, /api/connections and /api/info (the map's own schema is
// Graph.MapGraph). snake_case through ApiJsonContext, as documented in the README.

public sealed record ApiInfo
{
    public required string Version { get; init; }
    public required IReadOnlyList<string> Hooks { get; init; }
    public double IntervalS { get; init; }
    public string GroupBy { get; init; } = "";
    public IReadOnlyList<string> GroupByChoices { get; init; } = [];
    public bool TokenRequired { get; init; }
    public bool EventsAvailable { get; init; }
    public string Filters { get; init; } = "";
    /// <summary>Whether /api/capture.pcapng is offered (serve --capture).</summary>
    public bool CaptureAvailable { get; init; }
    /// <summary>The in-memory capture, null when off.</summary>
    public ApiCapture? Capture { get; init; }
}

/// <summary>The packets kept for /api/capture.pcapng.</summary>
public sealed record ApiCapture
{
    /// <summary>How long blocks are kept, and at most how many bytes of them.</summary>
    public double WindowS { get; init; }
    public long MaxBytes { get; init; }
    public uint Snaplen { get; init; }
    public bool Syscalls { get; init; }
    /// <summary>What is held now: packets, all blocks (packets, system calls, losses), bytes, the oldest block's time.</summary>
    public long HeldPackets { get; init; }
    public long HeldBlocks { get; init; }
    public long HeldBytes { get; init; }
    public string? Oldest { get; init; }
    /// <summary>Blocks dropped before their time was up, to stay within max_bytes.</summary>
    public long DroppedBlocks { get; init; }
    public long DroppedPackets { get; init; }
    public long DroppedBytes { get; init; }
    /// <summary>Packets of serve's own HTTP connections, never kept (a download would fill the window with itself).</summary>
    public long OwnPacketsLeftOut { get; init; }
    /// <summary>Since serve started: packets captured, and records the kernel lost.</summary>
    public long Packets { get; init; }
    public ulong LostPackets { get; init; }
    public ulong LostSyscalls { get; init; }
}

public sealed record ApiProcess
{
    public int Pid { get; init; }
    public int Ppid { get; init; }
    public string Comm { get; init; } = "";
    public string User { get; init; } = "";
    public uint Uid { get; init; }
    public string Cmdline { get; init; } = "";
    public int Sockets { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public ulong Connects { get; init; }
    public ulong ConnectFails { get; init; }
    public ulong Resets { get; init; }
    public ulong Retransmits { get; init; }
    public bool Exited { get; init; }

    public static ApiProcess From(ProcessRow r) => new()
    {
        Pid = r.Pid,
        Ppid = r.Totals.Ppid,
        Comm = r.Comm,
        User = r.User,
        Uid = r.Totals.Uid,
        Cmdline = r.CommandLine,
        Sockets = r.Sockets,
        TxRate = Math.Round(r.TxRate, 1),
        RxRate = Math.Round(r.RxRate, 1),
        TxBytes = r.Totals.TxBytes,
        RxBytes = r.Totals.RxBytes,
        Connects = r.Totals.Connects,
        ConnectFails = r.Totals.ConnectFails,
        Resets = r.Totals.Resets,
        Retransmits = r.Totals.Retransmits,
        Exited = r.Totals.Exited,
    };
}

public sealed record ApiConnection
{
    public ulong Cookie { get; init; }
    public string Proto { get; init; } = "";
    public string Local { get; init; } = "";
    public string Remote { get; init; } = "";
    public string State { get; init; } = "";
    public int? Pid { get; init; }
    public string Comm { get; init; } = "";
    public string User { get; init; } = "";
    /// <summary>"connect", "accept" or null when the start was not seen.</summary>
    public string? Role { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public uint? SrttUs { get; init; }
    public uint Retransmits { get; init; }
    public double AgeS { get; init; }
    public bool Closed { get; init; }

    public static ApiConnection From(ConnectionRow r) => new()
    {
        Cookie = r.Totals.Cookie,
        Proto = r.Proto,
        Local = r.Local,
        Remote = r.Remote,
        State = r.State,
        Pid = r.Totals.OwnerPid != 0 ? r.Totals.OwnerPid : null,
        Comm = r.Totals.OwnerComm,
        User = r.OwnerUser,
        Role = (r.Totals.Flags & Events.TopConnFlags.Active) != 0 ? "connect" : (r.Totals.Flags & Events.TopConnFlags.Passive) != 0 ? "accept" : null,
        TxRate = Math.Round(r.TxRate, 1),
        RxRate = Math.Round(r.RxRate, 1),
        TxBytes = r.Totals.TxBytes,
        RxBytes = r.Totals.RxBytes,
        SrttUs = r.Totals.SrttUs != 0 ? r.Totals.SrttUs : null,
        Retransmits = r.Totals.Retransmits,
        AgeS = Math.Round(r.AgeSeconds, 2),
        Closed = r.Totals.Closed,
    };
}

public sealed record ApiList<T>
{
    public required string Time { get; init; }
    public double IntervalS { get; init; }
    public required IReadOnlyList<T> Rows { get; init; }
}

public sealed record ApiError
{
    public required string Error { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ApiInfo))]
[JsonSerializable(typeof(ApiList<ApiProcess>))]
[JsonSerializable(typeof(ApiList<ApiConnection>))]
[JsonSerializable(typeof(ApiError))]
public sealed partial class ApiJsonContext : JsonSerializerContext
{
}
