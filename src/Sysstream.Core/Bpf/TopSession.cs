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
    /// <summary>Count unconnected UDP traffic per peer (cgroup sendmsg/recvmsg hooks on the cgroup v2
    /// root). Off: those hooks are not loaded and the byte hooks skip that path.</summary>
    public bool UdpPeers { get; init; }
    /// <summary>Per-peer rows the kernel keeps (least recently used ones go first beyond it).</summary>
    public uint MaxPeers { get; init; } = 16384;
    /// <summary>Give unix sockets their cookie inside connect() (cgroup connect_unix, Linux 6.7+), so
    /// a connect's return reports it. Only with unix sockets counted; skipped where the kernel lacks it.</summary>
    public bool UnixConnectCookies { get; init; }
    /// <summary>Count TCP bytes in socket-local storage, read with a BPF iterator (no hash lookup
    /// per call). Where the kernel cannot, top falls back to counting in the connection rows.</summary>
    public bool LiveCounts { get; init; } = true;
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
    public const string CurrentMap = "ss_top_cur";
    public const string ConnsMap = "ss_top_conns";
    public const string PeersMap = "ss_top_peers";
    public const string LiveMap = "ss_top_live";
    public const string LiveIterator = "ss_top_live_iter";

    /// <summary>The cgroup sock_addr programs that note the peers of unconnected UDP datagrams.</summary>
    private static readonly string[] PeerPrograms = ["ss_top_snd4", "ss_top_snd6", "ss_top_rcv4", "ss_top_rcv6"];

    /// <summary>The cgroup connect_unix program that assigns unix sockets their cookie.</summary>
    private const string UnixConnectProgram = "ss_top_unixcon";

    private readonly BpfObject _obj;
    private readonly FilterSetup _filters = new();
    private int _procsFd = -1, _connsFd = -1, _peersFd = -1, _cgroupFd = -1;

    /// <summary>Hooks attached, as "tp_btf/sock_send_length" etc.</summary>
    public IReadOnlyList<string> Attached { get; private set; } = [];

    /// <summary>Unconnected UDP traffic is counted per peer (asked for, and the hooks attached).</summary>
    public bool UdpPeers { get; private set; }

    /// <summary>Why per-peer UDP counting is off although it was asked for; null otherwise.</summary>
    public string? UdpPeersProblem { get; private set; }

    private TopSession(BpfObject obj) => _obj = obj;

    /// <summary>TCP bytes are counted in socket-local storage and read with the iterator.</summary>
    public bool LiveCounts { get; private set; }

    /// <summary>Why TCP bytes are counted in the rows alone although live counts were asked for.</summary>
    public string? LiveCountsProblem { get; private set; }

    /// <summary>Checks the prerequisites, loads the programs with the filters, and attaches them.</summary>
    public static TopSession Start(TopOptions options)
    {
        Preflight.EnsureCanTrace();
        LibbpfLog.Install(options.Verbose);
        if (!options.LiveCounts)
            return StartWith(options);
        try
        {
            return StartWith(options);
        }
        catch (SysstreamException ex)
        {
            // A kernel without sk storage iterators (before 5.9, or with them locked down): the
            // rows count everything, as they can. Any other failure recurs here and is reported.
            TopSession session = StartWith(options with { LiveCounts = false });
            session.LiveCountsProblem = ex.Message;
            return session;
        }
    }

    private static TopSession StartWith(TopOptions options)
    {
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
            string? cgroupRoot = null;
            if (options.UdpPeers || (options.UnixConnectCookies && unix))
            {
                try
                {
                    cgroupRoot = CaptureSession.FindCgroup2Root();
                }
                catch (SysstreamException ex)
                {
                    session.UdpPeersProblem = ex.Message;
                }
            }
            bool peers = cgroupRoot is not null && options.UdpPeers;
            if (!options.UdpPeers)
                session.UdpPeersProblem = null;
            // A libbpf older than 1.3 does not know the section name: the type is set by hand.
            bool unixCookies = cgroupRoot is not null && options.UnixConnectCookies && unix
                && BpfObject.KernelHasSockAddrHook(Interop.Libbpf.BPF_CGROUP_UNIX_CONNECT);
            if (unixCookies)
                obj.SetProgramType(UnixConnectProgram, Interop.Libbpf.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, Interop.Libbpf.BPF_CGROUP_UNIX_CONNECT);
            obj.SetAutoload(UnixConnectProgram, unixCookies);
            obj.SetKnob("ss_top_peers_on", peers ? (byte)1 : (byte)0);
            obj.SetKnob("ss_top_live_on", options.LiveCounts ? (byte)1 : (byte)0);
            obj.SetAutoload(LiveIterator, options.LiveCounts);
            // Off, the map is never written: the smallest size keeps its memory small.
            obj.SetMaxEntries(PeersMap, peers ? Math.Max(16u, options.MaxPeers) : 16u);
            foreach (string prog in PeerPrograms)
                obj.SetAutoload(prog, peers);
            obj.Load();
            session._filters.Fill(obj, options.Filter);
            session._procsFd = obj.MapFd(ProcsMap);
            session._connsFd = obj.MapFd(ConnsMap);
            session._peersFd = obj.MapFd(PeersMap);
            var attached = new List<string>();
            if (peers || unixCookies)
                session.OpenCgroup(cgroupRoot!);
            if (peers)
                session.AttachPeerHooks(cgroupRoot!, attached);
            if (unixCookies && session._cgroupFd >= 0)
            {
                try
                {
                    attached.Add(obj.AttachCgroup(UnixConnectProgram, session._cgroupFd));
                }
                catch (SysstreamException)
                {
                    // without it, unix connects are mapped as before: from their events, without bytes
                }
            }
            // before AttachAll, which would attach it without its map
            if (options.LiveCounts)
            {
                attached.Add(obj.AttachMapIterator(LiveIterator, obj.MapFd(LiveMap)));
                session.LiveCounts = true;
            }
            attached.AddRange(obj.AttachAll());
            session.Attached = attached;
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The cgroup sendmsg/recvmsg hooks on the cgroup v2 root (every process is below it). A kernel
    /// without them (or without sk storage) keeps top working: the peers stay uncounted and
    /// <see cref="UdpPeersProblem"/> says why.
    /// </summary>
    private void AttachPeerHooks(string cgroupRoot, List<string> attached)
    {
        if (_cgroupFd < 0)
        {
            UdpPeersProblem = SysstreamException.FromErrno($"opening the cgroup v2 root {cgroupRoot}", _cgroupErrno).Message;
            return;
        }
        var done = new List<string>();
        try
        {
            foreach (string prog in PeerPrograms)
                done.Add(_obj.AttachCgroup(prog, _cgroupFd));
        }
        catch (SysstreamException ex)
        {
            // Half of the hooks would count half of the peers: none, then.
            _obj.Detach(PeerPrograms);
            UdpPeersProblem = ex.Message;
            return;
        }
        attached.AddRange(done);
        UdpPeers = true;
    }

    private int _cgroupErrno;

    private void OpenCgroup(string cgroupRoot)
    {
        _cgroupFd = Interop.Libc.open(cgroupRoot, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY);
        if (_cgroupFd < 0)
            _cgroupErrno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
    }

    /// <summary>CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns.</summary>
    public ulong NowNs() => (ulong)Interop.Libc.ClockGettimeNs(Interop.Libc.CLOCK_MONOTONIC);

    /// <summary>
    /// The process rows, each with what its CPUs' current counts (ss_top_cur) hold for it. Those
    /// are read before and after the rows: when a CPU changed its current process in between, its
    /// counts may have moved into a row already read or not, and the rows are read again.
    /// </summary>
    public void ReadProcesses(List<ProcessTotals> into)
    {
        int start = into.Count;
        TopCur[] after;
        for (int attempt = 1; ; attempt++)
        {
            into.RemoveRange(start, into.Count - start);
            TopCur[] before = _obj.LookupPerCpu<TopCur>(CurrentMap, 0);
            MapWalker.Walk(_procsFd, perCpu: true, (in TopPkey key, ReadOnlySpan<TopProc> cpus) =>
                into.Add(ProcessTotals.Merge(key, cpus)), ProcsMap);
            after = _obj.LookupPerCpu<TopCur>(CurrentMap, 0);
            // Still apart after a few tries (a CPU switching between processes without pause):
            // what moved is missing from this read at worst, and shows in the next one.
            if (ProcessTotals.Unchanged(before, after) || attempt == 3)
                break;
        }
        ProcessTotals.AddCurrent(into, start, after);
    }

    /// <summary>
    /// The connection rows, each TCP one with its socket's live counts. Those are read before
    /// the rows: a socket that closes in between has its final counts in its row by then.
    /// </summary>
    public void ReadConnections(List<ConnectionTotals> into)
    {
        ReadLive();
        MapWalker.Walk(_connsFd, perCpu: false, (in ulong key, ReadOnlySpan<TopConn> values) =>
        {
            TopConn row = values[0];
            if (_live.TryGetValue(key, out TopLive live))
                LiveCountsMerge.Apply(ref row, live);
            into.Add(ConnectionTotals.From(row));
        }, ConnsMap);
    }

    private readonly Dictionary<ulong, TopLive> _live = new();
    private byte[] _liveBuffer = [];

    private void ReadLive()
    {
        _live.Clear();
        if (!LiveCounts)
            return;
        int length = _obj.RunIterator(LiveIterator, ref _liveBuffer, 0);
        LiveCountsMerge.Parse(_liveBuffer.AsSpan(0, length), _live);
    }

    public void ForgetProcess(ProcessKey key) =>
        MapWalker.Delete(_procsFd, new TopPkey { Tgid = (uint)key.Pid, StartNs = key.StartNs }, ProcsMap);

    public void ForgetConnection(ulong cookie) => MapWalker.Delete(_connsFd, cookie, ConnsMap);

    public void ReadPeers(List<PeerTotals> into)
    {
        if (!UdpPeers)
            return;
        MapWalker.Walk(_peersFd, perCpu: false, (in TopPeerKey key, ReadOnlySpan<TopPeer> values) =>
            into.Add(PeerTotals.From(key, values[0])), PeersMap);
    }

    public void ForgetPeer(PeerTotals peer) => MapWalker.Delete(_peersFd, peer.Key, PeersMap);

    /// <summary>Detaches every program: the totals stop growing; the maps stay readable.</summary>
    public void Detach() => _obj.DetachAll();

    public void Dispose()
    {
        _obj.Dispose();
        _filters.Dispose();
        if (_cgroupFd >= 0)
        {
            Interop.Libc.close(_cgroupFd);
            _cgroupFd = -1;
        }
    }
}
