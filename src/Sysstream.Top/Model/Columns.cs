using System.Globalization;
using Sysstream.Aggregation;
using Sysstream.Top.View;

namespace Sysstream.Top.Model;

/// <summary>Every sortable column of every view.</summary>
public enum ColumnId
{
    /// <summary>Not a column: busiest first (TX+RX rate, then TX+RX total, then most recent).</summary>
    Activity,
    Pid,
    Ppid,
    User,
    Comm,
    State,
    Sockets,
    TxRate,
    RxRate,
    TxBytes,
    RxBytes,
    Connects,
    ConnectFails,
    Resets,
    Retransmits,
    Proto,
    Local,
    Remote,
    Rtt,
    Age,
    Host,
    Connections,
}

/// <summary>What a column's text may depend on besides its row.</summary>
public readonly record struct ColumnContext(bool CommandLine);

/// <summary>
/// A column: header, width (0 = takes the room left), alignment, the key that sorts by it, its
/// text and its order. Pure data and functions: the model sorts and filters with them, the
/// renderer and the text writer print them.
/// </summary>
public sealed record Column<TRow>
{
    public required ColumnId Id { get; init; }
    public required string Header { get; init; }
    public int Width { get; init; }
    public bool Right { get; init; }
    /// <summary>The key that sorts by this column (upper case, listed by `?`).</summary>
    public char Key { get; init; }
    public required Func<TRow, ColumnContext, string> Text { get; init; }
    /// <summary>Ascending order.</summary>
    public required Comparison<TRow> Compare { get; init; }
    /// <summary>Descending first when chosen (numbers: biggest first).</summary>
    public bool DescendingFirst { get; init; }
    /// <summary>On a narrow screen, columns with the highest rank go first (0: always shown).</summary>
    public int DropRank { get; init; }

    public bool Flexible => Width == 0;
}

public static class Columns
{
    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string N(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static Column<T> Num<T>(ColumnId id, string header, int width, char key, Func<T, ulong> value) => new()
    {
        Id = id, Header = header, Width = width, Right = true, Key = key, DescendingFirst = true,
        Text = (r, _) => N(value(r)),
        Compare = (a, b) => value(a).CompareTo(value(b)),
    };

    private static Column<T> RateCol<T>(ColumnId id, string header, char key, Func<T, double> value) => new()
    {
        Id = id, Header = header, Width = 7, Right = true, Key = key, DescendingFirst = true,
        Text = (r, _) => Units.Rate(value(r)),
        Compare = (a, b) => value(a).CompareTo(value(b)),
    };

    private static Column<T> BytesCol<T>(ColumnId id, string header, char key, Func<T, ulong> value) => new()
    {
        Id = id, Header = header, Width = 7, Right = true, Key = key, DescendingFirst = true,
        Text = (r, _) => Units.Bytes(value(r)),
        Compare = (a, b) => value(a).CompareTo(value(b)),
    };

    private static Column<T> Str<T>(ColumnId id, string header, int width, char key, Func<T, ColumnContext, string> value, bool right = false) => new()
    {
        Id = id, Header = header, Width = width, Right = right, Key = key,
        Text = value,
        Compare = (a, b) => string.Compare(value(a, default), value(b, default), StringComparison.OrdinalIgnoreCase),
    };

    public static IReadOnlyList<Column<ProcessRow>> Processes { get; } =
    [
        Num<ProcessRow>(ColumnId.Pid, "PID", 7, 'P', r => (ulong)r.Pid),
        Num<ProcessRow>(ColumnId.Ppid, "PPID", 7, 'I', r => (ulong)r.Totals.Ppid) with { DropRank = 9 },
        Str<ProcessRow>(ColumnId.User, "USER", 9, 'U', (r, _) => r.User) with { DropRank = 2 },
        Str<ProcessRow>(ColumnId.State, "ST", 4, 'W', (r, _) => r.Totals.Exited ? "exit" : "run") with { DropRank = 4 },
        Num<ProcessRow>(ColumnId.Sockets, "SOCKS", 5, 'K', r => (ulong)r.Sockets) with { DropRank = 3 },
        RateCol<ProcessRow>(ColumnId.TxRate, "TX/s", 'T', r => r.TxRate),
        RateCol<ProcessRow>(ColumnId.RxRate, "RX/s", 'R', r => r.RxRate),
        BytesCol<ProcessRow>(ColumnId.TxBytes, "TX", 'X', r => r.Totals.TxBytes),
        BytesCol<ProcessRow>(ColumnId.RxBytes, "RX", 'V', r => r.Totals.RxBytes),
        Num<ProcessRow>(ColumnId.Connects, "CONN", 5, 'C', r => r.Totals.Connects) with { DropRank = 5 },
        Num<ProcessRow>(ColumnId.ConnectFails, "FAIL", 4, 'F', r => r.Totals.ConnectFails) with { DropRank = 6 },
        Num<ProcessRow>(ColumnId.Resets, "RST", 4, 'E', r => r.Totals.Resets) with { DropRank = 7 },
        Num<ProcessRow>(ColumnId.Retransmits, "RETR", 5, 'Z', r => r.Totals.Retransmits) with { DropRank = 8 },
        Str<ProcessRow>(ColumnId.Comm, "COMM", 0, 'N', (r, ctx) =>
            ctx.CommandLine && r.CommandLine.Length > 0 ? r.CommandLine : r.Comm),
    ];

    public static IReadOnlyList<Column<ConnectionRow>> Connections { get; } =
    [
        Str<ConnectionRow>(ColumnId.Proto, "PROTO", 5, 'O', (r, _) => r.Proto) with { DropRank = 1 },
        Str<ConnectionRow>(ColumnId.Local, "LOCAL", 22, 'L', (r, _) => r.Local),
        Str<ConnectionRow>(ColumnId.Remote, "REMOTE", 22, 'M', (r, _) => r.Remote),
        Str<ConnectionRow>(ColumnId.State, "STATE", 11, 'S', (r, _) => r.State),
        Num<ConnectionRow>(ColumnId.Pid, "PID", 7, 'P', r => (ulong)r.Totals.OwnerPid) with { Text = (r, _) => r.Totals.OwnerPid == 0 ? "-" : N(r.Totals.OwnerPid) },
        RateCol<ConnectionRow>(ColumnId.TxRate, "TX/s", 'T', r => r.TxRate),
        RateCol<ConnectionRow>(ColumnId.RxRate, "RX/s", 'R', r => r.RxRate),
        BytesCol<ConnectionRow>(ColumnId.TxBytes, "TX", 'X', r => r.Totals.TxBytes) with { DropRank = 3 },
        BytesCol<ConnectionRow>(ColumnId.RxBytes, "RX", 'V', r => r.Totals.RxBytes) with { DropRank = 3 },
        new Column<ConnectionRow>
        {
            Id = ColumnId.Rtt, Header = "RTT", Width = 7, Right = true, Key = 'Y', DescendingFirst = true, DropRank = 4,
            Text = (r, _) => Units.Micros(r.Totals.SrttUs),
            Compare = (a, b) => a.Totals.SrttUs.CompareTo(b.Totals.SrttUs),
        },
        Num<ConnectionRow>(ColumnId.Retransmits, "RETR", 5, 'Z', r => r.Totals.Retransmits) with { DropRank = 5 },
        new Column<ConnectionRow>
        {
            Id = ColumnId.Age, Header = "AGE", Width = 7, Right = true, Key = 'A', DescendingFirst = true, DropRank = 2,
            Text = (r, _) => Units.Age(r.AgeSeconds),
            Compare = (a, b) => a.AgeSeconds.CompareTo(b.AgeSeconds),
        },
        Str<ConnectionRow>(ColumnId.Comm, "COMM", 0, 'N', (r, _) => r.Totals.OwnerComm),
    ];

    public static IReadOnlyList<Column<HostRow>> Hosts { get; } =
    [
        Str<HostRow>(ColumnId.Host, "REMOTE", 39, 'M', (r, _) => r.Address),
        Num<HostRow>(ColumnId.Connections, "CONNS", 5, 'K', r => (ulong)r.Connections),
        Num<HostRow>(ColumnId.Sockets, "OPEN", 5, 'G', r => (ulong)r.OpenConnections) with { DropRank = 3 },
        RateCol<HostRow>(ColumnId.TxRate, "TX/s", 'T', r => r.TxRate),
        RateCol<HostRow>(ColumnId.RxRate, "RX/s", 'R', r => r.RxRate),
        BytesCol<HostRow>(ColumnId.TxBytes, "TX", 'X', r => r.TxBytes),
        BytesCol<HostRow>(ColumnId.RxBytes, "RX", 'V', r => r.RxBytes),
        Num<HostRow>(ColumnId.Retransmits, "RETR", 5, 'Z', r => r.Retransmits) with { DropRank = 4 },
        Str<HostRow>(ColumnId.Comm, "PROCESSES", 0, 'N', (r, _) =>
            string.Join(",", r.Pids.Select(p => p.ToString(CultureInfo.InvariantCulture))) + (r.Comms.Count > 0 ? " " + string.Join(",", r.Comms) : "")),
    ];

    /// <summary>Busiest first: combined rate, then combined total.</summary>
    public static int Activity(double rateA, ulong totalA, double rateB, ulong totalB)
    {
        int c = rateA.CompareTo(rateB);
        return c != 0 ? c : totalA.CompareTo(totalB);
    }
}
