using System.Runtime.InteropServices;
using Sysstream.Events;

namespace Sysstream.Aggregation;

/// <summary>
/// A TCP socket's live counts (ss_top_live, socket-local storage) against its connection row.
/// The row is brought up to the live counts now and then and at CLOSE, so both only grow and the
/// row never holds more: each count is the larger of the two, however the reads interleave.
/// </summary>
public static class LiveCountsMerge
{
    /// <summary>Reads the records the iterator wrote (whole <see cref="TopLive"/>s), by cookie.</summary>
    public static void Parse(ReadOnlySpan<byte> records, Dictionary<ulong, TopLive> into)
    {
        foreach (TopLive live in MemoryMarshal.Cast<byte, TopLive>(records))
        {
            if (live.Cookie != 0)
                into[live.Cookie] = live;
        }
    }

    public static void Apply(ref TopConn row, in TopLive live)
    {
        row.TxBytes = Math.Max(row.TxBytes, live.TxBytes);
        row.RxBytes = Math.Max(row.RxBytes, live.RxBytes);
        row.TxCalls = Math.Max(row.TxCalls, live.TxCalls);
        row.RxCalls = Math.Max(row.RxCalls, live.RxCalls);
        row.LastNs = Math.Max(row.LastNs, live.LastNs);
    }
}
