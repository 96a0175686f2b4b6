using System.Globalization;
using System.Net;

namespace Sysstream.Graph;

/// <summary>
/// Projects a <see cref="FlowSet"/> onto nodes and edges for one grouping: processes become
/// application nodes (executable and user by default), addresses become remote or local nodes,
/// and the flows between two nodes with one protocol become one edge. Pure.
/// </summary>
public static class GraphProjector
{
    /// <summary>Connections listed per edge at most.</summary>
    public const int ConnectionsPerEdge = 50;

    public static MapGraph Project(FlowSet set, GroupBy groupBy, IHostNames? names = null)
    {
        names ??= NoHostNames.Instance;
        var grouper = new Grouper(set.Processes.Values, groupBy);
        var nodes = new Dictionary<string, NodeBuilder>(StringComparer.Ordinal);

        NodeBuilder NodeOf(Endpoint e)
        {
            string id;
            NodeBuilder? n;
            switch (e.Kind)
            {
                case EndpointKind.Process:
                {
                    ProcessFact fact = set.Processes.TryGetValue(e.Pid, out ProcessFact? f) ? f : new ProcessFact { Pid = e.Pid };
                    (id, string label) = grouper.Group(fact);
                    if (!nodes.TryGetValue(id, out n))
                        nodes[id] = n = new NodeBuilder(id, "process", label, grouper);
                    n.AddProcess(fact);
                    return n;
                }
                default:
                {
                    string kind = e.Kind == EndpointKind.Remote ? "remote" : "local";
                    id = kind + ":" + HostPort(e.Address, e.Service);
                    if (!nodes.TryGetValue(id, out n))
                    {
                        string? name = e.Kind == EndpointKind.Remote && IPAddress.TryParse(e.Address, out IPAddress? a) ? names.TryGet(a) : null;
                        string label = HostPort(name ?? e.Address, e.Service);
                        if (e.Kind == EndpointKind.Local && e.Service.Length == 0)
                            label += " (local)";
                        nodes[id] = n = new NodeBuilder(id, kind, label, grouper)
                        {
                            Name = name,
                            Address = e.Address,
                            Port = int.TryParse(e.Service, NumberStyles.None, CultureInfo.InvariantCulture, out int port) ? port : null,
                        };
                    }
                    return n;
                }
            }
        }

        var edges = new Dictionary<string, EdgeBuilder>(StringComparer.Ordinal);
        foreach (Flow flow in set.Flows)
        {
            NodeBuilder from = NodeOf(flow.Key.Client);
            NodeBuilder to = NodeOf(flow.Key.Server);
            string id = from.Id + "->" + to.Id + "/" + flow.Key.Proto;
            if (!edges.TryGetValue(id, out EdgeBuilder? e))
                edges[id] = e = new EdgeBuilder(id, from.Id, to.Id, flow.Key.Proto,
                    flow.Key.Client.Kind == EndpointKind.Process && flow.Key.Server.Kind == EndpointKind.Process);
            e.Add(flow);
            if (from.Kind != "process")
            {
                from.Tx += flow.BytesToServer;
                from.Rx += flow.BytesToClient;
                from.TxRate += flow.RateToServer;
                from.RxRate += flow.RateToClient;
            }
            if (to.Kind != "process")
            {
                to.Tx += flow.BytesToClient;
                to.Rx += flow.BytesToServer;
                to.TxRate += flow.RateToClient;
                to.RxRate += flow.RateToServer;
            }
        }

        // Listening sockets make their processes nodes even before anyone connects.
        foreach (ListenerInfo l in set.Listeners)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (int pid in l.Pids)
            {
                if (!set.Processes.TryGetValue(pid, out ProcessFact? fact))
                    continue;
                NodeBuilder n = NodeOf(Endpoint.OfProcess(pid, fact.StartNs));
                if (seen.Add(n.Id))
                    n.AddListener(l);
            }
        }

        long rtNs = set.RealtimeOffsetNs;
        var nodeList = nodes.Values.Select(n => n.Build())
            .OrderByDescending(n => n.TxBytes + n.RxBytes).ThenBy(n => n.Label, StringComparer.Ordinal).ToList();
        var edgeList = edges.Values.Select(e => e.Build(set))
            .OrderByDescending(e => e.BytesToServer + e.BytesToClient).ThenByDescending(e => e.Opened).ThenBy(e => e.Id, StringComparer.Ordinal).ToList();
        return new MapGraph
        {
            Time = Rfc3339(set.WallNs(set.TakenNs)),
            IntervalS = Math.Round(set.IntervalSeconds, 3),
            GroupBy = groupBy.Name(),
            Nodes = nodeList,
            Edges = edgeList,
            DroppedEvents = set.DroppedEvents,
            Totals = new MapTotals
            {
                Nodes = nodeList.Count,
                Edges = edgeList.Count,
                Opened = edgeList.Sum(e => e.Opened),
                Open = edgeList.Sum(e => e.Open),
                Failed = edgeList.Sum(e => e.Failed),
                BytesToServer = Sum(edgeList, e => e.BytesToServer),
                BytesToClient = Sum(edgeList, e => e.BytesToClient),
                RateToServer = edgeList.Sum(e => e.RateToServer),
                RateToClient = edgeList.Sum(e => e.RateToClient),
            },
        };
    }

    private static ulong Sum(List<MapEdge> edges, Func<MapEdge, ulong> f)
    {
        ulong s = 0;
        foreach (MapEdge e in edges)
            s += f(e);
        return s;
    }

    /// <summary>"1.2.3.4:443", "[::1]:80", "host.example:443", or the address alone without a service.</summary>
    public static string HostPort(string host, string service)
    {
        if (service.Length == 0)
            return host;
        if (!int.TryParse(service, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return host == "unix" ? service : host + " " + service;
        return host.Contains(':') ? "[" + host + "]:" + service : host + ":" + service;
    }

    /// <summary>RFC 3339 UTC with nanoseconds, as trace prints times.</summary>
    public static string Rfc3339(long unixNs)
    {
        if (unixNs <= 0)
            return "1970-01-01T00:00:00.000000000Z";
        var t = DateTime.UnixEpoch.AddTicks(unixNs / 100);
        return t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "."
            + (unixNs % 1_000_000_000).ToString("000000000", CultureInfo.InvariantCulture) + "Z";
    }

    // ------------------------------------------------------------------ grouping

    /// <summary>Group keys and labels of processes. A process whose executable could not be read
    /// (it was gone before /proc was read) joins the group of a known executable with its name.</summary>
    private sealed class Grouper
    {
        private readonly GroupBy _by;
        private readonly Dictionary<(string Comm, string User), string> _exeByComm = new();

        public Grouper(IEnumerable<ProcessFact> facts, GroupBy by)
        {
            _by = by;
            var ambiguous = new HashSet<(string, string)>();
            foreach (ProcessFact f in facts)
            {
                if (f.Exe.Length == 0)
                    continue;
                var key = (CommOfExe(f.Exe), f.User);
                if (_exeByComm.TryGetValue(key, out string? known) && known != f.Exe)
                    ambiguous.Add(key);
                else
                    _exeByComm[key] = f.Exe;
                var byComm = (f.Comm, f.User);
                if (f.Comm.Length > 0 && !_exeByComm.ContainsKey(byComm))
                    _exeByComm[byComm] = f.Exe;
            }
            foreach (var key in ambiguous)
                _exeByComm.Remove(key);
        }

        /// <summary>The kernel's comm of an executable: its file name cut to 15 bytes.</summary>
        private static string CommOfExe(string exe)
        {
            string name = Path.GetFileName(exe);
            return name.Length > 15 ? name[..15] : name;
        }

        public string ExeOf(ProcessFact f)
        {
            if (f.Exe.Length > 0)
                return f.Exe;
            return _exeByComm.TryGetValue((f.Comm, f.User), out string? exe) ? exe : "";
        }

        public static string NameOf(string exe, string comm) => exe.Length > 0 ? Path.GetFileName(exe) : comm.Length > 0 ? comm : "?";

        public (string Id, string Label) Group(ProcessFact f)
        {
            string exe = ExeOf(f);
            string name = NameOf(exe, f.Comm);
            string user = f.User.Length > 0 ? f.User : f.Uid.ToString(CultureInfo.InvariantCulture);
            return _by switch
            {
                GroupBy.Pid => ("pid:" + f.Pid.ToString(CultureInfo.InvariantCulture), $"{name} {f.Pid} ({user})"),
                GroupBy.Comm => ("comm:" + (f.Comm.Length > 0 ? f.Comm : name), f.Comm.Length > 0 ? f.Comm : name),
                GroupBy.Exe => ("exe:" + (exe.Length > 0 ? exe : "comm:" + f.Comm), name),
                GroupBy.Cgroup => ("cgroup:" + f.Cgroup, f.Cgroup.Length == 0 ? "(no cgroup)" : f.Cgroup == "/" ? "/" : Path.GetFileName(f.Cgroup.TrimEnd('/'))),
                GroupBy.User => ("user:" + user, user),
                _ => ("app:" + (exe.Length > 0 ? exe : "comm:" + f.Comm) + "@" + user, $"{name} ({user})"),
            };
        }
    }

    private sealed class NodeBuilder(string id, string kind, string label, Grouper grouper)
    {
        public string Id { get; } = id;
        public string Kind { get; } = kind;
        public string? Name { get; init; }
        public string? Address { get; init; }
        public int? Port { get; init; }
        public ulong Tx, Rx;
        public double TxRate, RxRate;
        private readonly SortedDictionary<int, ProcessFact> _procs = new();
        private readonly Dictionary<string, MapListener> _listeners = new(StringComparer.Ordinal);

        public void AddProcess(ProcessFact f) => _procs.TryAdd(f.Pid, f);

        public void AddListener(ListenerInfo l)
        {
            _listeners.TryAdd(l.Display, new MapListener
            {
                Proto = l.Proto,
                Address = l.Path is null ? Aggregation.Endpoints.Host(l.Address) : null,
                Port = l.Path is null ? l.Port : null,
                Path = l.Path,
                Display = l.Display,
                Pids = l.Pids.Where(_procs.ContainsKey).OrderBy(p => p).ToList(),
            });
        }

        public MapNode Build()
        {
            var facts = _procs.Values.ToList();
            ulong tx = Tx, rx = Rx;
            foreach (ProcessFact f in facts)
            {
                tx += f.TxBytes;
                rx += f.RxBytes;
            }
            string? Common(Func<ProcessFact, string> pick)
            {
                var values = facts.Select(pick).Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).ToList();
                return values.Count == 1 ? values[0] : values.Count == 0 ? null : "*";
            }
            return new MapNode
            {
                Id = Id,
                Kind = Kind,
                Label = label,
                Name = Name,
                Address = Address,
                Port = Port,
                Exe = Kind == "process" ? Common(grouper.ExeOf) : null,
                Comm = Kind == "process" ? Common(f => f.Comm) : null,
                User = Kind == "process" ? Common(f => f.User) : null,
                Cgroup = Kind == "process" ? Common(f => f.Cgroup) : null,
                Pids = facts.Select(f => f.Pid).ToList(),
                Processes = facts.Select(f => new MapProcess
                {
                    Pid = f.Pid,
                    Comm = f.Comm,
                    User = f.User,
                    Exe = grouper.ExeOf(f),
                    Cmdline = f.CommandLine,
                    Exited = f.Exited,
                }).ToList(),
                Listening = _listeners.Values.OrderBy(l => l.Proto, StringComparer.Ordinal).ThenBy(l => l.Port ?? 0).ThenBy(l => l.Path, StringComparer.Ordinal).ToList(),
                TxBytes = tx,
                RxBytes = rx,
                TxRate = Math.Round(TxRate, 1),
                RxRate = Math.Round(RxRate, 1),
            };
        }
    }

    private sealed class EdgeBuilder(string id, string from, string to, string proto, bool local)
    {
        private readonly List<Flow> _flows = new();

        public void Add(Flow f) => _flows.Add(f);

        public MapEdge Build(FlowSet set)
        {
            var errors = new SortedDictionary<string, long>(StringComparer.Ordinal);
            LatencySum connect = default, rtt = default, fr = default;
            ulong toServer = 0, toClient = 0, first = 0, last = 0;
            ulong? dgToServer = null, dgToClient = null;
            foreach (Flow f in _flows)
            {
                foreach ((string e, long n) in f.Errors)
                    errors[e] = errors.GetValueOrDefault(e) + n;
                connect = connect.Add(f.Connect);
                rtt = rtt.Add(f.Rtt);
                fr = fr.Add(f.FirstResponse);
                toServer += f.BytesToServer;
                toClient += f.BytesToClient;
                if (f.DatagramsToServer is ulong ds)
                    dgToServer = (dgToServer ?? 0) + ds;
                if (f.DatagramsToClient is ulong dc)
                    dgToClient = (dgToClient ?? 0) + dc;
                if (f.FirstNs != 0 && (first == 0 || f.FirstNs < first))
                    first = f.FirstNs;
                last = Math.Max(last, f.LastNs);
            }
            var ports = _flows.Select(f => f.Key.Service).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)
                .OrderBy(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : int.MaxValue)
                .ThenBy(s => s, StringComparer.Ordinal).ToList();
            var conns = _flows.SelectMany(f => f.Connections)
                .OrderByDescending(c => c.Open).ThenByDescending(c => Math.Max(c.OpenedNs, c.ClosedNs)).ThenBy(c => c.Id)
                .Take(ConnectionsPerEdge).Select(c => Connection(c, set)).ToList();
            return new MapEdge
            {
                Id = id,
                From = from,
                To = to,
                Proto = proto,
                Ports = ports,
                Local = local,
                Opened = _flows.Sum(f => f.Opened),
                Open = _flows.Sum(f => f.Open),
                Failed = _flows.Sum(f => f.Failed),
                Errors = errors,
                BytesToServer = toServer,
                BytesToClient = toClient,
                DatagramsToServer = dgToServer,
                DatagramsToClient = dgToClient,
                RateToServer = Math.Round(_flows.Sum(f => f.RateToServer), 1),
                RateToClient = Math.Round(_flows.Sum(f => f.RateToClient), 1),
                ConnectUs = Latency(connect),
                RttUs = Latency(rtt),
                FirstResponseUs = Latency(fr),
                FirstSeen = first != 0 ? Rfc3339(set.WallNs(first)) : null,
                LastSeen = last != 0 ? Rfc3339(set.WallNs(last)) : null,
                Connections = conns,
            };
        }

        private static MapLatency? Latency(LatencySum s) =>
            s.Count == 0 ? null : new MapLatency { Count = s.Count, Avg = Math.Round(s.AverageUs ?? 0, 1), Max = s.MaxUs };

        private static MapConnection Connection(FlowConnection c, FlowSet set) => new()
        {
            Id = c.Id,
            PeerId = c.PeerId,
            Client = c.ClientAddress,
            Server = c.ServerAddress,
            ClientPid = c.ClientPid != 0 ? c.ClientPid : null,
            ClientComm = c.ClientPid != 0 ? c.ClientComm : null,
            ServerPid = c.ServerPid != 0 ? c.ServerPid : null,
            ServerComm = c.ServerPid != 0 ? c.ServerComm : null,
            State = c.State,
            Open = c.Open,
            Failed = c.Failed,
            Error = c.Error,
            BytesToServer = c.BytesToServer,
            BytesToClient = c.BytesToClient,
            DatagramsToServer = c.DatagramsToServer,
            DatagramsToClient = c.DatagramsToClient,
            RateToServer = Math.Round(c.RateToServer, 1),
            RateToClient = Math.Round(c.RateToClient, 1),
            ConnectUs = c.ConnectUs,
            RttUs = c.RttUs != 0 ? c.RttUs : null,
            FirstResponseUs = c.FirstResponseUs,
            Opened = c.OpenedNs != 0 ? Rfc3339(set.WallNs(c.OpenedNs)) : null,
            Closed = c.ClosedNs != 0 ? Rfc3339(set.WallNs(c.ClosedNs)) : null,
        };
    }
}
