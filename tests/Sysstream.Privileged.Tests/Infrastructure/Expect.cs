using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>Assertions whose failure message shows the JSON the tracer printed.</summary>
public static class Expect
{
    public static void Equal<T>(T expected, T actual, string what, TraceEvent? context = null)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new XunitException($"{what}: expected {Show(expected)}, got {Show(actual)}" + (context is null ? "" : $"\nin: {context}"));
    }

    public static void True(bool condition, string what, IEnumerable<TraceEvent>? context = null)
    {
        if (!condition)
            throw new XunitException(what + (context is null ? "" : "\n" + TraceResult.Show(context)));
    }

    /// <summary>Exactly one event matches; otherwise fails listing what was there.</summary>
    public static TraceEvent Single(IEnumerable<TraceEvent> candidates, string what, IEnumerable<TraceEvent> shown, TraceResult? run = null)
    {
        var list = candidates.Take(5).ToList();
        if (list.Count == 1)
            return list[0];
        throw new XunitException($"expected exactly one {what}, found {(list.Count == 0 ? "none" : list.Count.ToString())}:\n"
            + TraceResult.Show(list.Count > 0 ? list : shown) + (run is null ? "" : run.Describe()));
    }

    /// <summary>Every event satisfies the check; the first that does not is shown.</summary>
    public static void All(IEnumerable<TraceEvent> events, Func<TraceEvent, bool> check, string what)
    {
        foreach (TraceEvent e in events)
        {
            if (!check(e))
                throw new XunitException($"{what}; this event does not:\n{e}");
        }
    }

    private static string Show<T>(T v) => v switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => v.ToString()!,
    };
}

/// <summary>Selections over trace events.</summary>
public static class TraceEventQueries
{
    public static readonly string[] SendCalls = ["sendto", "sendmsg", "sendmmsg", "write", "writev", "sendfile"];
    public static readonly string[] RecvCalls = ["recvfrom", "recvmsg", "recvmmsg", "read", "readv"];

    public static IEnumerable<TraceEvent> Exits(this IEnumerable<TraceEvent> e, params string[] funcs) =>
        e.Where(x => x.IsExit && (funcs.Length == 0 || funcs.Contains(x.Func)));

    public static IEnumerable<TraceEvent> Enters(this IEnumerable<TraceEvent> e, params string[] funcs) =>
        e.Where(x => x.IsEnter && (funcs.Length == 0 || funcs.Contains(x.Func)));

    /// <summary>Events on a socket with this local and remote end (IPv4 printed plainly).</summary>
    public static IEnumerable<TraceEvent> OnTuple(this IEnumerable<TraceEvent> e, string laddr, long lport, string raddr, long rport) =>
        e.Where(x => x.LocalIs(laddr, lport) && x.RemoteIs(raddr, rport));

    /// <summary>Sum of the "bytes" of successful exits.</summary>
    public static long SumBytes(this IEnumerable<TraceEvent> e) => e.Where(x => x.IsExit).Sum(x => x.Bytes ?? 0);
}
