namespace Sysstream.Aggregation;

/// <summary>
/// Turns two snapshots into a <see cref="TopFrame"/>: rates are the growth of each row's totals
/// divided by the time between the snapshots. A row that is new since the previous snapshot
/// grew from zero (every map starts empty at attach). Pure apart from <see cref="IProcessFacts"/>.
/// </summary>
public static class FrameBuilder
{
    public static TopFrame Build(TopSnapshot previous, TopSnapshot current, IProcessFacts facts, bool commandLines = true)
    {
        double seconds = current.TakenNs > previous.TakenNs ? (current.TakenNs - previous.TakenNs) / 1e9 : 0;

        var prevProcs = new Dictionary<ProcessKey, ProcessTotals>(previous.Processes.Count);
        foreach (ProcessTotals p in previous.Processes)
            prevProcs[p.Key] = p;
        var prevConns = new Dictionary<ulong, ConnectionTotals>(previous.Connections.Count);
        foreach (ConnectionTotals c in previous.Connections)
            prevConns[c.Cookie] = c;

        var exited = new HashSet<ProcessKey>();
        foreach (ProcessTotals p in current.Processes)
        {
            if (p.Exited)
                exited.Add(p.Key);
        }

        // Connections first: processes count their open sockets from them.
        var conns = new List<ConnectionRow>(current.Connections.Count);
        var sockets = new Dictionary<ProcessKey, int>();
        int open = 0;
        foreach (ConnectionTotals c in current.Connections)
        {
            prevConns.TryGetValue(c.Cookie, out ConnectionTotals? before);
            ulong end = c.CloseNs != 0 ? c.CloseNs : current.TakenNs;
            conns.Add(new ConnectionRow
            {
                Totals = c,
                OwnerUser = c.OwnerPid != 0 ? facts.UserName(c.OwnerUid) : "",
                TxRate = Rate(c.TxBytes, before?.TxBytes ?? 0, seconds),
                RxRate = Rate(c.RxBytes, before?.RxBytes ?? 0, seconds),
                AgeSeconds = c.FirstNs != 0 && end > c.FirstNs ? (end - c.FirstNs) / 1e9 : 0,
            });
            if (IsOpen(c, exited))
            {
                open++;
                if (c.OwnerPid != 0)
                    sockets[c.Owner] = sockets.GetValueOrDefault(c.Owner) + 1;
            }
        }

        var procs = new List<ProcessRow>(current.Processes.Count);
        ulong connects = current.Retired.Connects, fails = current.Retired.ConnectFails;
        ulong resets = current.Retired.Resets, retrans = current.Retired.Retransmits;
        int exitedCount = 0;
        foreach (ProcessTotals p in current.Processes)
        {
            prevProcs.TryGetValue(p.Key, out ProcessTotals? before);
            procs.Add(new ProcessRow
            {
                Totals = p,
                User = facts.UserName(p.Uid),
                CommandLine = commandLines ? facts.CommandLine(p.Pid, p.StartNs) : "",
                Sockets = sockets.GetValueOrDefault(p.Key),
                TxRate = Rate(p.TxBytes, before?.TxBytes ?? 0, seconds),
                RxRate = Rate(p.RxBytes, before?.RxBytes ?? 0, seconds),
            });
            connects += p.Connects;
            fails += p.ConnectFails;
            resets += p.Resets;
            retrans += p.Retransmits;
            if (p.Exited)
                exitedCount++;
        }

        (ulong tx, ulong rx) = current.TotalBytes();
        (ulong ptx, ulong prx) = previous.TotalBytes();
        return new TopFrame
        {
            Snapshot = current,
            IntervalSeconds = seconds,
            Processes = procs,
            Connections = conns,
            Hosts = Hosts(conns),
            Totals = new TotalsRow
            {
                TxBytes = tx,
                RxBytes = rx,
                TxRate = Rate(tx, ptx, seconds),
                RxRate = Rate(rx, prx, seconds),
                Processes = procs.Count,
                ExitedProcesses = exitedCount,
                Connections = conns.Count,
                OpenConnections = open,
                Connects = connects,
                ConnectFails = fails,
                Resets = resets,
                Retransmits = retrans,
            },
        };
    }

    /// <summary>Bytes per second; 0 without an interval, and never negative (a row that was
    /// evicted and came back starts over).</summary>
    public static double Rate(ulong now, ulong before, double seconds) =>
        seconds <= 0 || now <= before ? 0 : (now - before) / seconds;

    /// <summary>Open: TCP until it closes; sockets without a close event while their owner runs.</summary>
    public static bool IsOpen(ConnectionTotals c, IReadOnlySet<ProcessKey> exitedOwners) =>
        !c.Closed && (c.IsTcp || c.OwnerPid == 0 || !exitedOwners.Contains(c.Owner));

    /// <summary>Groups connections by remote address (unix sockets have none and are left out).</summary>
    public static IReadOnlyList<HostRow> Hosts(IReadOnlyList<ConnectionRow> conns)
    {
        var groups = new Dictionary<string, List<ConnectionRow>>(StringComparer.Ordinal);
        foreach (ConnectionRow c in conns)
        {
            if (c.Totals.Family == Events.Sock.AF_UNIX)
                continue;
            string host = c.Totals.RemotePort == 0 && Endpoints.IsUnspecified(c.Totals.RemoteAddress)
                ? "*" : Endpoints.Host(c.Totals.RemoteAddress);
            if (!groups.TryGetValue(host, out List<ConnectionRow>? list))
                groups[host] = list = new List<ConnectionRow>();
            list.Add(c);
        }
        var rows = new List<HostRow>(groups.Count);
        foreach ((string host, List<ConnectionRow> list) in groups)
        {
            var owners = list.Where(c => c.Totals.OwnerPid != 0)
                .Select(c => (c.Totals.OwnerPid, c.Totals.OwnerComm)).Distinct().OrderBy(o => o.OwnerPid).ToList();
            rows.Add(new HostRow
            {
                Address = host,
                Connections = list.Count,
                OpenConnections = list.Count(c => !c.Totals.Closed),
                Pids = owners.Select(o => o.OwnerPid).ToList(),
                Comms = owners.Select(o => o.OwnerComm).Distinct(StringComparer.Ordinal).ToList(),
                TxBytes = Sum(list, c => c.Totals.TxBytes),
                RxBytes = Sum(list, c => c.Totals.RxBytes),
                TxRate = list.Sum(c => c.TxRate),
                RxRate = list.Sum(c => c.RxRate),
                Retransmits = Sum(list, c => c.Totals.Retransmits),
            });
        }
        return rows;
    }

    private static ulong Sum(List<ConnectionRow> rows, Func<ConnectionRow, ulong> f)
    {
        ulong s = 0;
        foreach (ConnectionRow r in rows)
            s += f(r);
        return s;
    }
}
