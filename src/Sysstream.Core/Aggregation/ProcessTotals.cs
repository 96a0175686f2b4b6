using System.Text;
using Sysstream.Events;

namespace Sysstream.Aggregation;

/// <summary>
/// One process's totals since sysstream attached, merged from the per-CPU copies of its
/// <c>ss_top_procs</c> value. Immutable.
/// </summary>
public sealed record ProcessTotals
{
    public required int Pid { get; init; }
    /// <summary>The process's start time (ns after boot): with the pid, identifies it.</summary>
    public ulong StartNs { get; init; }
    public int Ppid { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public string Comm { get; init; } = "";
    public ulong CgroupId { get; init; }
    /// <summary>CLOCK_MONOTONIC ns of the first and last activity seen; 0 when none.</summary>
    public ulong FirstNs { get; init; }
    public ulong LastNs { get; init; }
    /// <summary>CLOCK_MONOTONIC ns of its exit; 0 while it runs.</summary>
    public ulong ExitNs { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public ulong TxCalls { get; init; }
    public ulong RxCalls { get; init; }
    public ulong Connects { get; init; }
    public ulong ConnectFails { get; init; }
    public ulong Resets { get; init; }
    public ulong Retransmits { get; init; }

    public bool Exited => ExitNs != 0;

    public ProcessKey Key => new(Pid, StartNs);

    /// <summary>
    /// Sums the counters of every CPU's copy; first/last activity are the extremes, the exit is
    /// the one any CPU saw, and the facts come from the copy that wrote them last (after an
    /// exec, the new name).
    /// </summary>
    public static ProcessTotals Merge(in TopPkey key, ReadOnlySpan<TopProc> cpus)
    {
        ulong tx = 0, rx = 0, txc = 0, rxc = 0, conn = 0, fail = 0, rst = 0, retr = 0;
        ulong first = 0, last = 0, exit = 0, factsNs = 0;
        int facts = -1;
        for (int i = 0; i < cpus.Length; i++)
        {
            ref readonly TopProc c = ref cpus[i];
            tx += c.TxBytes;
            rx += c.RxBytes;
            txc += c.TxCalls;
            rxc += c.RxCalls;
            conn += c.Connects;
            fail += c.ConnectFails;
            rst += c.Resets;
            retr += c.Retransmits;
            if (c.FirstNs != 0 && (first == 0 || c.FirstNs < first))
                first = c.FirstNs;
            last = Math.Max(last, c.LastNs);
            exit = Math.Max(exit, c.ExitNs);
            if (c.FactsNs != 0 && c.FactsNs >= factsNs)
            {
                factsNs = c.FactsNs;
                facts = i;
            }
        }
        TopProc f = facts >= 0 ? cpus[facts] : default;
        return new ProcessTotals
        {
            Pid = (int)key.Tgid,
            StartNs = key.StartNs,
            Ppid = (int)f.Ppid,
            Uid = f.Uid,
            Gid = f.Gid,
            Comm = facts >= 0 ? CString(f) : "",
            CgroupId = f.CgroupId,
            FirstNs = first,
            LastNs = last,
            ExitNs = exit,
            TxBytes = tx,
            RxBytes = rx,
            TxCalls = txc,
            RxCalls = rxc,
            Connects = conn,
            ConnectFails = fail,
            Resets = rst,
            Retransmits = retr,
        };
    }

    /// <summary>
    /// True when no CPU changed its current process between the two reads of ss_top_cur, nor was
    /// changing it during either (an odd seq): rows read in between hold none of the counts of
    /// <paramref name="after"/>.
    /// </summary>
    public static bool Unchanged(ReadOnlySpan<TopCur> before, ReadOnlySpan<TopCur> after)
    {
        for (int i = 0; i < before.Length && i < after.Length; i++)
        {
            if (before[i].Seq != after[i].Seq || (after[i].Seq & 1) != 0)
                return false;
        }
        return true;
    }

    /// <summary>
    /// Adds each CPU's current counts to the row of its process, among the rows from
    /// <paramref name="start"/> on. Counts of a process without a row are left out: its row was
    /// retired (they were counted then) or evicted. So are those of a CPU caught changing its
    /// current process (an odd seq): part of them may be in the row already.
    /// </summary>
    public static void AddCurrent(List<ProcessTotals> rows, int start, ReadOnlySpan<TopCur> cpus)
    {
        for (int i = 0; i < cpus.Length; i++)
        {
            ref readonly TopCur c = ref cpus[i];
            if (c.Key.Tgid == 0 || (c.TxCalls | c.RxCalls) == 0 || (c.Seq & 1) != 0)
                continue;
            for (int r = start; r < rows.Count; r++)
            {
                ProcessTotals p = rows[r];
                if (p.Pid != (int)c.Key.Tgid || p.StartNs != c.Key.StartNs)
                    continue;
                rows[r] = p with
                {
                    TxBytes = p.TxBytes + c.TxBytes,
                    RxBytes = p.RxBytes + c.RxBytes,
                    TxCalls = p.TxCalls + c.TxCalls,
                    RxCalls = p.RxCalls + c.RxCalls,
                    LastNs = Math.Max(p.LastNs, c.LastNs),
                };
                break;
            }
        }
    }

    private static unsafe string CString(TopProc p) => CStrings.FromC(new ReadOnlySpan<byte>(p.Comm, 16));
}

/// <summary>A process: its pid and start time (a reused pid is another process).</summary>
public readonly record struct ProcessKey(int Pid, ulong StartNs);

/// <summary>Kernel strings (fixed arrays, NUL-terminated when shorter) to .NET strings.</summary>
internal static class CStrings
{
    public static string FromC(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(n < 0 ? bytes : bytes[..n]);
    }
}
