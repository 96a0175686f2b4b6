namespace Sysstream.Aggregation;

/// <summary>
/// What a view shows for one interval: the rows of the current snapshot with their rates over
/// the interval since the previous one. Immutable; built by <see cref="FrameBuilder"/>.
/// </summary>
public sealed class TopFrame
{
    public required TopSnapshot Snapshot { get; init; }
    /// <summary>Seconds between the two snapshots the rates come from.</summary>
    public double IntervalSeconds { get; init; }
    public IReadOnlyList<ProcessRow> Processes { get; init; } = [];
    public IReadOnlyList<ConnectionRow> Connections { get; init; } = [];
    public IReadOnlyList<HostRow> Hosts { get; init; } = [];
    public TotalsRow Totals { get; init; } = new();

    public static TopFrame Empty { get; } = new() { Snapshot = TopSnapshot.Empty(0) };
}

/// <summary>A process row: totals, rates (bytes per second) and the facts from /proc.</summary>
public sealed record ProcessRow
{
    public required ProcessTotals Totals { get; init; }
    public string User { get; init; } = "";
    /// <summary>Arguments joined by spaces; empty when the process is gone and was never read.</summary>
    public string CommandLine { get; init; } = "";
    /// <summary>Its sockets seen open (TCP not closed, UDP/unix while it runs).</summary>
    public int Sockets { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }

    public int Pid => Totals.Pid;
    public string Comm => Totals.Comm;
}

/// <summary>A connection row: totals, rates, age.</summary>
public sealed record ConnectionRow
{
    public required ConnectionTotals Totals { get; init; }
    public string OwnerUser { get; init; } = "";
    public double TxRate { get; init; }
    public double RxRate { get; init; }
    /// <summary>Seconds since first seen (to its close when closed).</summary>
    public double AgeSeconds { get; init; }

    public string Proto => Endpoints.Proto(Totals.Family, Totals.Protocol);
    public string Local => Totals.Family == Events.Sock.AF_UNIX ? "" : Endpoints.Format(Totals.LocalAddress, Totals.LocalPort);
    public string Remote => Totals.Family == Events.Sock.AF_UNIX ? "" : Endpoints.Format(Totals.RemoteAddress, Totals.RemotePort);

    /// <summary>TCP state, or for UDP "connected"/"unconnected"; "CLOSED" once closed.</summary>
    public string State => Totals.IsTcp ? Endpoints.TcpState(Totals.State)
        : Totals.IsUdp ? (Totals.State == 1 ? "CONNECTED" : "UNCONN")
        : Totals.State == 1 ? "CONNECTED" : "-";
}

/// <summary>Traffic to one remote address, over all its connections.</summary>
public sealed record HostRow
{
    /// <summary>The remote address, "*" for sockets with no fixed peer (unconnected UDP).</summary>
    public required string Address { get; init; }
    public int Connections { get; init; }
    public int OpenConnections { get; init; }
    /// <summary>Processes that own connections to it, by pid.</summary>
    public IReadOnlyList<int> Pids { get; init; } = [];
    public IReadOnlyList<string> Comms { get; init; } = [];
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }
    public ulong Retransmits { get; init; }
}

/// <summary>The totals line: everything since start, including rows already forgotten.</summary>
public sealed record TotalsRow
{
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public double TxRate { get; init; }
    public double RxRate { get; init; }
    public int Processes { get; init; }
    public int ExitedProcesses { get; init; }
    public int Connections { get; init; }
    public int OpenConnections { get; init; }
    public ulong Connects { get; init; }
    public ulong ConnectFails { get; init; }
    public ulong Resets { get; init; }
    public ulong Retransmits { get; init; }
}

/// <summary>Facts about processes that the maps do not hold (names of users, command lines).</summary>
public interface IProcessFacts
{
    string UserName(uint uid);

    /// <summary>The command line of the process with this pid and start time, "" when unknown.</summary>
    string CommandLine(int pid, ulong startNs);
}
