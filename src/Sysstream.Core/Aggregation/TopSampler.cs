namespace Sysstream.Aggregation;

/// <summary>Where the totals come from: the kernel's maps (<see cref="Bpf.TopSession"/>), or a fake in tests.</summary>
public interface ITopSource
{
    /// <summary>CLOCK_MONOTONIC now, in ns (the clock of the kernel's timestamps).</summary>
    ulong NowNs();

    void ReadProcesses(List<ProcessTotals> into);

    void ReadConnections(List<ConnectionTotals> into);

    /// <summary>Removes a process row from the kernel's map.</summary>
    void ForgetProcess(ProcessKey key);

    /// <summary>Removes a connection row from the kernel's map.</summary>
    void ForgetConnection(ulong cookie);

    /// <summary>The per-peer rows of unconnected UDP sockets, when the source counts them.</summary>
    void ReadPeers(List<PeerTotals> into)
    {
    }

    /// <summary>Removes a per-peer row from the kernel's map.</summary>
    void ForgetPeer(PeerTotals peer)
    {
    }
}

/// <summary>
/// Reads the source into immutable snapshots. Rows of processes that exited and of connections
/// that closed stay visible for <see cref="Keep"/> after the end (so short-lived processes are
/// seen), then are removed from the kernel's maps; their totals move into
/// <see cref="TopSnapshot.Retired"/>. Called from one thread.
/// </summary>
public sealed class TopSampler
{
    private readonly ITopSource _source;
    private readonly List<ProcessTotals> _procs = new();
    private readonly List<ConnectionTotals> _conns = new();
    private readonly List<PeerTotals> _peers = new();
    private RetiredTotals _retired;

    public TimeSpan Keep { get; }

    public TopSampler(ITopSource source, TimeSpan keep)
    {
        _source = source;
        Keep = keep;
    }

    /// <summary>The baseline before anything was counted.</summary>
    public TopSnapshot Baseline() => TopSnapshot.Empty(_source.NowNs());

    public TopSnapshot Sample()
    {
        _procs.Clear();
        _conns.Clear();
        _peers.Clear();
        _source.ReadProcesses(_procs);
        _source.ReadConnections(_conns);
        _source.ReadPeers(_peers);
        ulong now = _source.NowNs();
        ulong keepNs = (ulong)Keep.Ticks * 100;

        var procs = new List<ProcessTotals>(_procs.Count);
        var exitedAt = new Dictionary<ProcessKey, ulong>();
        foreach (ProcessTotals p in _procs)
        {
            if (p.Exited && Older(now, p.ExitNs, keepNs))
            {
                _source.ForgetProcess(p.Key);
                _retired = _retired.Add(p);
                exitedAt[p.Key] = p.ExitNs;
                continue;
            }
            if (p.Exited)
                exitedAt[p.Key] = p.ExitNs;
            procs.Add(p);
        }
        var live = new HashSet<ProcessKey>(procs.Select(p => p.Key));

        var conns = new List<ConnectionTotals>(_conns.Count);
        HashSet<ulong>? forgotten = null;
        foreach (ConnectionTotals c in _conns)
        {
            if (Expired(c, now, keepNs, live, exitedAt))
            {
                _source.ForgetConnection(c.Cookie);
                (forgotten ??= new()).Add(c.Cookie);
                continue;
            }
            conns.Add(c);
        }

        // A socket's peers end with the socket's row, or when idle for the keep time.
        var peers = new List<PeerTotals>(_peers.Count);
        foreach (PeerTotals p in _peers)
        {
            if (Older(now, Math.Max(p.LastNs, p.FirstNs), keepNs) || (forgotten is not null && forgotten.Contains(p.Cookie)))
            {
                _source.ForgetPeer(p);
                continue;
            }
            peers.Add(p);
        }
        return new TopSnapshot { TakenNs = now, Processes = procs, Connections = conns, Peers = peers, Retired = _retired };
    }

    /// <summary>
    /// A connection's row ends: TCP when it closed long enough ago; sockets without a close event
    /// (UDP, unix) when idle for the keep time and their owner exited or is no longer known.
    /// </summary>
    public static bool Expired(ConnectionTotals c, ulong now, ulong keepNs, IReadOnlySet<ProcessKey> live,
        IReadOnlyDictionary<ProcessKey, ulong> exitedAt)
    {
        if (c.Closed)
            return Older(now, c.CloseNs != 0 ? c.CloseNs : c.LastNs, keepNs);
        if (c.IsTcp)
            return false;
        ulong last = Math.Max(c.LastNs, c.FirstNs);
        if (!Older(now, last, keepNs))
            return false;
        if (c.OwnerPid == 0)
            return true;
        return !live.Contains(c.Owner) || exitedAt.ContainsKey(c.Owner);
    }

    private static bool Older(ulong now, ulong then, ulong keepNs) => then != 0 && now > then && now - then > keepNs;
}
