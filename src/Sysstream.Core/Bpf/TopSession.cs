using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Filters;

namespace Sysstream.Bpf;

/// <summary>How the top programs are set up.</summary>
public sealed record TopOptions
{
    public TraceFilter Filter { get; init; } = new();
    /// <summary>Count unix-domain sockets too (otherwise IPv4 and IPv6 only).</summary>
    public bool IncludeUnix { get; init; }
    /// <summary>Process rows the kernel keeps (least recently active ones go first beyond it).</summary>
    public uint MaxProcesses { get; init; } = 8192;
    /// <summary>Connection rows the kernel keeps.</summary>
    public uint MaxConnections { get; init; } = 16384;
    public bool Verbose { get; init; }
}

/// <summary>
/// The loaded and attached top programs (bpf/top.bpf.c): per-process and per-connection totals
/// aggregated in the kernel, read here on demand. Nothing is streamed: the object's ring buffer
/// is shrunk to one page and never read. Disposing detaches and unloads everything.
/// </summary>
public sealed class TopSession : ITopSource, IDisposable
{
    public const string ObjectName = "top.bpf.o";
    public const string ProcsMap = "ss_top_procs";
    public const string ConnsMap = "ss_top_conns";

    private readonly BpfObject _obj;
    private readonly FilterSetup _filters = new();
    private int _procsFd = -1, _connsFd = -1;

    /// <summary>Hooks attached, as "tp_btf/sock_send_length" etc.</summary>
    public IReadOnlyList<string> Attached { get; private set; } = [];

    private TopSession(BpfObject obj) => _obj = obj;

    /// <summary>Checks the prerequisites, loads the programs with the filters, and attaches them.</summary>
    public static TopSession Start(TopOptions options)
    {
        Preflight.EnsureCanTrace();
        LibbpfLog.Install(options.Verbose);
        var obj = BpfObject.Open(BpfObject.EmbeddedImage(ObjectName));
        var session = new TopSession(obj);
        try
        {
            if (options.MaxProcesses < 16 || options.MaxConnections < 16)
                throw new SysstreamException("the top maps need room for at least 16 rows", ExitCodes.Usage);
            // The shared ring buffer of common.bpf.h is not used by top: one page is the minimum.
            obj.SetMaxEntries("ss_events", 4096);
            obj.SetMaxEntries(ProcsMap, options.MaxProcesses);
            obj.SetMaxEntries(ConnsMap, options.MaxConnections);
            FilterSetup.Configure(obj, options.Filter, followChildren: false, wakeupBytes: 2048);
            bool unix = options.IncludeUnix || options.Filter.Family == Sock.AF_UNIX;
            obj.SetKnob("ss_top_unix", unix ? (byte)1 : (byte)0);
            obj.Load();
            session._filters.Fill(obj, options.Filter);
            session._procsFd = obj.MapFd(ProcsMap);
            session._connsFd = obj.MapFd(ConnsMap);
            session.Attached = obj.AttachAll();
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns.</summary>
    public ulong NowNs() => (ulong)Interop.Libc.ClockGettimeNs(Interop.Libc.CLOCK_MONOTONIC);

    public void ReadProcesses(List<ProcessTotals> into) =>
        MapWalker.Walk(_procsFd, perCpu: true, (in TopPkey key, ReadOnlySpan<TopProc> cpus) =>
            into.Add(ProcessTotals.Merge(key, cpus)), ProcsMap);

    public void ReadConnections(List<ConnectionTotals> into) =>
        MapWalker.Walk(_connsFd, perCpu: false, (in ulong key, ReadOnlySpan<TopConn> values) =>
            into.Add(ConnectionTotals.From(values[0])), ConnsMap);

    public void ForgetProcess(ProcessKey key) =>
        MapWalker.Delete(_procsFd, new TopPkey { Tgid = (uint)key.Pid, StartNs = key.StartNs }, ProcsMap);

    public void ForgetConnection(ulong cookie) => MapWalker.Delete(_connsFd, cookie, ConnsMap);

    /// <summary>Detaches every program: the totals stop growing; the maps stay readable.</summary>
    public void Detach() => _obj.DetachAll();

    public void Dispose()
    {
        _obj.Dispose();
        _filters.Dispose();
    }
}
