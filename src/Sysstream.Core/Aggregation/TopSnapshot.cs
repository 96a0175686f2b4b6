namespace Sysstream.Aggregation;

/// <summary>
/// What the kernel's top maps held at one moment: every process and connection row, plus the
/// totals of rows already forgotten (so totals since start never go down). Immutable.
/// </summary>
public sealed class TopSnapshot
{
    /// <summary>CLOCK_MONOTONIC ns when the maps were read (the clock of the kernel's timestamps).</summary>
    public required ulong TakenNs { get; init; }
    public IReadOnlyList<ProcessTotals> Processes { get; init; } = [];
    public IReadOnlyList<ConnectionTotals> Connections { get; init; } = [];
    /// <summary>Per-peer rows of unconnected UDP sockets (empty unless the source counts them).</summary>
    public IReadOnlyList<PeerTotals> Peers { get; init; } = [];
    /// <summary>Totals of the rows forgotten so far.</summary>
    public RetiredTotals Retired { get; init; }

    /// <summary>Nothing seen yet: the baseline at attach time.</summary>
    public static TopSnapshot Empty(ulong takenNs) => new() { TakenNs = takenNs };

    /// <summary>Bytes in and out since start, forgotten rows included.</summary>
    public (ulong Tx, ulong Rx) TotalBytes()
    {
        ulong tx = Retired.TxBytes, rx = Retired.RxBytes;
        foreach (ProcessTotals p in Processes)
        {
            tx += p.TxBytes;
            rx += p.RxBytes;
        }
        return (tx, rx);
    }
}

/// <summary>The sums of the process rows that were forgotten (exited long enough ago).</summary>
public readonly record struct RetiredTotals
{
    public int Processes { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public ulong TxCalls { get; init; }
    public ulong RxCalls { get; init; }
    public ulong Connects { get; init; }
    public ulong ConnectFails { get; init; }
    public ulong Resets { get; init; }
    public ulong Retransmits { get; init; }

    public RetiredTotals Add(ProcessTotals p) => this with
    {
        Processes = Processes + 1,
        TxBytes = TxBytes + p.TxBytes,
        RxBytes = RxBytes + p.RxBytes,
        TxCalls = TxCalls + p.TxCalls,
        RxCalls = RxCalls + p.RxCalls,
        Connects = Connects + p.Connects,
        ConnectFails = ConnectFails + p.ConnectFails,
        Resets = Resets + p.Resets,
        Retransmits = Retransmits + p.Retransmits,
    };
}
