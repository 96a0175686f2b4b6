using System.Globalization;
using System.Net;
using Sysstream.Aggregation;
using Sysstream.Events;

namespace Sysstream.Graph;

/// <summary>
/// Turns what the kernel counted into flows, one <see cref="Update"/> per tick: the socket rows of
/// top's maps (bytes, state, owner per socket cookie), the connect/accept/listen/close events of
/// the trace object, and the listening sockets. Joins the two ends of a local connection by their
/// mirrored tuples, decides who connected, and keeps totals of connections that ended so nothing
/// goes down when the kernel forgets a row. Called from one thread; the result is immutable.
/// </summary>
public sealed class FlowBuilder
{
    /// <summary>Connections kept per flow after they ended, for the details view.</summary>
    public int RecentPerFlow { get; init; } = 16;
    /// <summary>How long lifecycle facts of a socket no longer in the maps are kept.</summary>
    public TimeSpan ForgetAfter { get; init; } = TimeSpan.FromSeconds(60);

    private readonly IProcessDirectory _directory;
    private readonly Dictionary<ulong, SocketLife> _life = new();
    private readonly Dictionary<FlowKey, FlowAccum> _flows = new();
    private readonly Dictionary<ulong, LiveConn> _previous = new();
    private readonly Dictionary<ProcessKey, ProcessFact> _facts = new();
    private readonly Dictionary<int, ProcessKey> _latestByPid = new();
    private readonly Dictionary<string, (int Pid, ulong Ns)> _unixAcceptors = new(StringComparer.Ordinal);
    private readonly List<SocketEvent> _synthetic = new();
    /// <summary>Unix connects whose socket has a cookie but no row yet (no byte moved): shown from
    /// the event until the row comes, under the same id, so the connection is counted once.</summary>
    private readonly Dictionary<ulong, SocketEvent> _pendingUnix = new();
    private readonly Dictionary<ulong, ulong> _connectionIds = new();
    private readonly Dictionary<(ulong Cookie, IPAddress Address, ushort Port), ulong> _associations = new();
    private long _associationIds;
    private IReadOnlyDictionary<ulong, ulong>? _firstResponse;
    private long _syntheticIds;
    private ulong _lastNs;
    private (int Low, int High) _ephemeral = (32768, 60999);

    public FlowBuilder(IProcessDirectory directory) => _directory = directory;

    /// <summary>The kernel's ephemeral port range (net.ipv4.ip_local_port_range): tells clients from servers.</summary>
    public (int Low, int High) EphemeralPorts
    {
        get => _ephemeral;
        init => _ephemeral = value;
    }

    /// <summary>
    /// One tick: takes the events that came since the last one, the current rows of the kernel's
    /// maps, the listening sockets and this host's addresses, and returns the flows as of now.
    /// </summary>
    public FlowSet Update(TopSnapshot snapshot, IReadOnlyList<SocketEvent> events, IReadOnlyList<ListenerInfo> listeners,
        LocalAddresses local, long realtimeOffsetNs = 0, long droppedEvents = 0, IReadOnlyDictionary<ulong, ulong>? firstResponseUs = null)
    {
        _firstResponse = firstResponseUs;
        ulong now = snapshot.TakenNs;
        double seconds = _lastNs != 0 && now > _lastNs ? (now - _lastNs) / 1e9 : 0;

        foreach (SocketEvent e in events)
            Ingest(e);
        RefreshFacts(snapshot);

        var sockets = new List<SockView>(snapshot.Connections.Count + snapshot.Peers.Count);
        var exited = new HashSet<ProcessKey>(snapshot.Processes.Where(p => p.Exited).Select(p => p.Key));
        var liveCookies = new HashSet<ulong>();
        var byCookie = new Dictionary<ulong, ConnectionTotals>(snapshot.Connections.Count);
        foreach (ConnectionTotals c in snapshot.Connections)
        {
            liveCookies.Add(c.Cookie);
            byCookie.TryAdd(c.Cookie, c);
            _life.TryGetValue(c.Cookie, out SocketLife? life);
            if (life is not null)
                life.LastSeenNs = now;
            sockets.Add(Classify(c, life, listeners, exited));
        }
        // Unconnected UDP sockets: one row per peer, with the socket's local end and owner.
        var associations = new HashSet<ulong>();
        foreach (PeerTotals p in snapshot.Peers)
        {
            if (!byCookie.TryGetValue(p.Cookie, out ConnectionTotals? socket))
                continue; // the socket's row is gone: its owner is not known any more
            ulong id = AssociationId(p);
            associations.Add(id);
            liveCookies.Add(id);
            sockets.Add(Classify(AssociationRow(id, socket, p), null, listeners, exited));
        }
        if (_associations.Count > associations.Count)
            foreach (var key in _associations.Where(a => !associations.Contains(a.Value)).Select(a => a.Key).ToList())
                _associations.Remove(key);

        var listenerIndex = new ListenerIndex(listeners, sockets);
        var byTuple = new Dictionary<TupleKey, SockView>();
        var udpByPorts = new Dictionary<(ushort Local, ushort Remote), List<SockView>>();
        foreach (SockView s in sockets)
        {
            if (!s.HasPeer)
                continue;
            byTuple.TryAdd(new TupleKey(s.Proto, s.LocalAddr, s.LocalPort, s.RemoteAddr, s.RemotePort), s);
            if (s.Proto == "udp")
            {
                if (!udpByPorts.TryGetValue((s.LocalPort, s.RemotePort), out List<SockView>? list))
                    udpByPorts[(s.LocalPort, s.RemotePort)] = list = new();
                list.Add(s);
            }
        }

        var current = new Dictionary<ulong, LiveConn>();
        var consumed = new HashSet<ulong>();
        // Clients first: each takes its mirror (the server's socket) when that is local.
        foreach (SockView s in sockets)
        {
            if (s.Role != Role.Connector || consumed.Contains(s.Row.Cookie))
                continue;
            SockView? peer = null;
            if (s.HasPeer && byTuple.TryGetValue(new TupleKey(s.Proto, s.RemoteAddr, s.RemotePort, s.LocalAddr, s.LocalPort), out SockView? m)
                && m.Role != Role.Connector && m.Row.Cookie != s.Row.Cookie)
            {
                peer = m;
                consumed.Add(m.Row.Cookie);
            }
            else if (s.HasPeer && s.Proto == "udp" && UdpMirror(s, udpByPorts, consumed) is { } um)
            {
                peer = um;
                consumed.Add(um.Row.Cookie);
            }
            consumed.Add(s.Row.Cookie);
            LiveConn conn = FromConnector(s, peer, listenerIndex, local, exited);
            ulong id = ConnectionId(s.Row.Cookie, peer?.Row.Cookie ?? 0);
            current[id] = conn with { Conn = conn.Conn with { Id = id } };
        }
        foreach (SockView s in sockets)
        {
            if (s.Role != Role.Acceptor || consumed.Contains(s.Row.Cookie) || s.Proto == "unix")
                continue;
            consumed.Add(s.Row.Cookie);
            LiveConn conn = FromAcceptor(s, listenerIndex, local, exited);
            ulong id = ConnectionId(s.Row.Cookie, 0);
            current[id] = conn with { Conn = conn.Conn with { Id = id } };
        }
        // Connects that left no row (unix sockets, a failure before any state): from the event alone.
        foreach (SocketEvent e in _synthetic)
        {
            if (e.Cookie != 0 && liveCookies.Contains(e.Cookie))
                continue;
            LiveConn conn = FromEvent(e, listenerIndex, local);
            current[conn.Conn.Id] = conn;
        }
        _synthetic.Clear();
        // Successful unix connects with a cookie: the row takes over once the socket moves a byte.
        List<ulong>? settled = null;
        foreach ((ulong cookie, SocketEvent e) in _pendingUnix)
        {
            if (liveCookies.Contains(cookie))
            {
                (settled ??= new()).Add(cookie);
                continue;
            }
            LiveConn conn = FromEvent(e, listenerIndex, local);
            ulong closedNs = _life.TryGetValue(cookie, out SocketLife? life) ? life.ClosedNs : 0;
            bool expired = now > e.TsNs && now - e.TsNs > (ulong)ForgetAfter.Ticks * 100;
            current[conn.Conn.Id] = conn with { Conn = conn.Conn with { Open = closedNs == 0 && !expired, ClosedNs = closedNs != 0 ? closedNs : expired ? now : 0 } };
            if (closedNs != 0 || expired)
                (settled ??= new()).Add(cookie);
        }
        if (settled is not null)
            foreach (ulong cookie in settled)
                _pendingUnix.Remove(cookie);

        // Rates from the previous tick, per connection, so a connection whose ends became known
        // later (and moved to another flow) keeps a smooth rate.
        foreach ((ulong id, LiveConn conn) in current.ToList())
        {
            if (_previous.TryGetValue(id, out LiveConn? before) && seconds > 0)
            {
                current[id] = conn with
                {
                    Conn = conn.Conn with
                    {
                        RateToServer = FrameBuilder.Rate(conn.Conn.BytesToServer, before.Conn.BytesToServer, seconds),
                        RateToClient = FrameBuilder.Rate(conn.Conn.BytesToClient, before.Conn.BytesToClient, seconds),
                    },
                };
            }
            else if (seconds > 0 && conn.Conn.OpenedNs >= _lastNs)
            {
                // New since the last tick: everything it moved is this interval's.
                current[id] = conn with
                {
                    Conn = conn.Conn with
                    {
                        RateToServer = conn.Conn.BytesToServer / seconds,
                        RateToClient = conn.Conn.BytesToClient / seconds,
                    },
                };
            }
        }

        // Connections seen before and gone now: their totals move into their flow for good.
        foreach ((ulong id, LiveConn before) in _previous)
        {
            if (!current.ContainsKey(id))
                Retire(before);
        }
        _previous.Clear();
        foreach ((ulong id, LiveConn conn) in current)
            _previous[id] = conn;

        Forget(now, liveCookies);
        List<ulong>? stale = null;
        foreach (ulong cookie in _connectionIds.Keys)
            if (!liveCookies.Contains(cookie))
                (stale ??= new()).Add(cookie);
        if (stale is not null)
            foreach (ulong cookie in stale)
                _connectionIds.Remove(cookie);
        _lastNs = now;

        return new FlowSet
        {
            TakenNs = now,
            RealtimeOffsetNs = realtimeOffsetNs,
            IntervalSeconds = seconds,
            Flows = BuildFlows(current.Values),
            Processes = ProcessesFor(current.Values, listeners),
            Listeners = listeners,
            DroppedEvents = droppedEvents,
        };
    }

    // ------------------------------------------------------------------ events

    private void Ingest(SocketEvent e)
    {
        switch (e.Kind)
        {
            case SocketEventKind.Connect:
            {
                bool failed = e.Ret < 0 && !IsInProgress(e.Error);
                if (e.Cookie != 0)
                {
                    SocketLife life = Life(e.Cookie);
                    life.Role = Role.Connector;
                    life.Pid = e.Pid;
                    life.Comm = e.Comm;
                    life.Uid = e.Uid;
                    if (e.Ret == 0)
                        life.ConnectUs = e.DurationNs / 1000;
                    if (failed)
                        life.Error = e.Error;
                    life.RemotePath ??= e.RemotePath;
                }
                if (e.Family == Events.Sock.AF_UNIX && !failed && e.Ret == 0 && e.Cookie != 0)
                {
                    _pendingUnix[e.Cookie] = e;
                    break;
                }
                // Unix connects and failures may leave no row behind: keep the event itself.
                if (e.Family == Events.Sock.AF_UNIX || failed || e.Cookie == 0)
                {
                    if (e.Family != Events.Sock.AF_UNIX && e.RemotePort == 0)
                        break; // an AF_UNSPEC "disconnect" or a connect with no address
                    _synthetic.Add(e);
                }
                break;
            }
            case SocketEventKind.Accept:
                if (e.Ret < 0)
                    break;
                if (e.Cookie != 0)
                {
                    SocketLife life = Life(e.Cookie);
                    life.Role = Role.Acceptor;
                    life.Pid = e.Pid;
                    life.Comm = e.Comm;
                    life.Uid = e.Uid;
                }
                if (e.Family == Events.Sock.AF_UNIX && !string.IsNullOrEmpty(e.LocalPath))
                    _unixAcceptors[e.LocalPath] = (e.Pid, e.TsNs);
                break;
            case SocketEventKind.Close:
                if (e.Cookie != 0 && _life.TryGetValue(e.Cookie, out SocketLife? closed))
                    closed.ClosedNs = e.TsNs;
                break;
            case SocketEventKind.Listen:
                if (e.Family == Events.Sock.AF_UNIX && e.Ret == 0 && !string.IsNullOrEmpty(e.LocalPath))
                    _unixAcceptors.TryAdd(e.LocalPath, (e.Pid, e.TsNs));
                break;
        }
    }

    /// <summary>
    /// The other end of a UDP conversation between two local sockets. An unconnected socket knows
    /// no local address (it is chosen per datagram), so the ends are matched by their ports, and
    /// by their addresses where both sides know them.
    /// </summary>
    private static SockView? UdpMirror(SockView s, Dictionary<(ushort Local, ushort Remote), List<SockView>> byPorts, HashSet<ulong> consumed)
    {
        if (!byPorts.TryGetValue((s.RemotePort, s.LocalPort), out List<SockView>? candidates))
            return null;
        foreach (SockView m in candidates)
        {
            if (m.Role == Role.Connector || m.Row.Cookie == s.Row.Cookie || consumed.Contains(m.Row.Cookie))
                continue;
            if (SameHost(m.RemoteAddr, s.LocalAddr) && SameHost(m.LocalAddr, s.RemoteAddr))
                return m;
        }
        return null;
    }

    /// <summary>Two addresses of one end agree: equal, or one of them not known (the any-address).</summary>
    private static bool SameHost(string a, string b) =>
        a == b || a.Length == 0 || b.Length == 0 || a is "0.0.0.0" or "::" || b is "0.0.0.0" or "::";

    /// <summary>
    /// The id of one peer of an unconnected UDP socket: a number of its own (the socket's cookie
    /// is shared by all its peers), kept while the kernel keeps the row.
    /// </summary>
    private ulong AssociationId(PeerTotals p)
    {
        var key = (p.Cookie, p.Address, p.Port);
        if (!_associations.TryGetValue(key, out ulong id))
            _associations[key] = id = AssociationIdBase | (ulong)++_associationIds;
        return id;
    }

    /// <summary>Ids of UDP peers (<see cref="AssociationId"/>): far above socket cookies, below the synthetic ids of events.</summary>
    public const ulong AssociationIdBase = 0x4000_0000_0000_0000UL;

    /// <summary>One peer of an unconnected UDP socket as a connection row: the socket's local end and
    /// owner, the peer as the remote end; the side that sent first connected.</summary>
    private static ConnectionTotals AssociationRow(ulong id, ConnectionTotals socket, PeerTotals p) => socket with
    {
        Cookie = id,
        RemoteAddress = p.Address,
        RemotePort = p.Port,
        Flags = p.SentFirst ? TopConnFlags.Active : TopConnFlags.Passive,
        TxBytes = p.TxBytes,
        RxBytes = p.RxBytes,
        TxCalls = p.TxDatagrams,
        RxCalls = p.RxDatagrams,
        FirstNs = p.FirstNs,
        LastNs = p.LastNs,
    };

    /// <summary>
    /// The id of a connection: the client socket's cookie, but a connection keeps the id it was
    /// first seen under when its other end shows up later or goes first, so it is counted once.
    /// </summary>
    private ulong ConnectionId(ulong cookie, ulong peer)
    {
        if (!_connectionIds.TryGetValue(cookie, out ulong id) && (peer == 0 || !_connectionIds.TryGetValue(peer, out id)))
            id = peer != 0 && _previous.ContainsKey(peer) ? peer : cookie;
        _connectionIds[cookie] = id;
        if (peer != 0)
            _connectionIds[peer] = id;
        return id;
    }

    private static bool IsInProgress(string? error) => error is null or "EINPROGRESS" or "EALREADY" or "EAGAIN" or "EINTR";

    private SocketLife Life(ulong cookie)
    {
        if (!_life.TryGetValue(cookie, out SocketLife? life))
            _life[cookie] = life = new SocketLife();
        return life;
    }

    private void Forget(ulong now, HashSet<ulong> live)
    {
        ulong keep = (ulong)ForgetAfter.Ticks * 100;
        List<ulong>? gone = null;
        foreach ((ulong cookie, SocketLife life) in _life)
        {
            if (live.Contains(cookie))
                continue;
            ulong since = life.LastSeenNs != 0 ? life.LastSeenNs : life.CreatedNs;
            if (since == 0)
                life.CreatedNs = since = now;
            if (now > since && now - since > keep)
                (gone ??= new()).Add(cookie);
        }
        if (gone is not null)
            foreach (ulong c in gone)
                _life.Remove(c);
    }

    // ------------------------------------------------------------------ sockets

    private enum Role : byte { None, Connector, Acceptor }

    private sealed class SocketLife
    {
        public Role Role;
        public int Pid;
        public string Comm = "";
        public uint Uid;
        public ulong? ConnectUs;
        public string? Error;
        public string? RemotePath;
        public ulong ClosedNs;
        public ulong LastSeenNs;
        public ulong CreatedNs;
    }

    /// <summary>One socket row with what is known about its role and owner.</summary>
    private sealed record SockView(ConnectionTotals Row, SocketLife? Life, Role Role, int OwnerPid, ulong OwnerStartNs, string OwnerComm,
        string Proto, string LocalAddr, ushort LocalPort, string RemoteAddr, ushort RemotePort, bool Open)
    {
        public bool HasPeer => RemotePort != 0;
    }

    private readonly record struct TupleKey(string Proto, string LocalAddr, ushort LocalPort, string RemoteAddr, ushort RemotePort);

    private SockView Classify(ConnectionTotals c, SocketLife? life, IReadOnlyList<ListenerInfo> listeners, HashSet<ProcessKey> exited)
    {
        string proto = Endpoints.Proto(c.Family, c.Protocol);
        string la = Addr(c.LocalAddress), ra = Addr(c.RemoteAddress);
        int pid = c.OwnerPid;
        ulong start = c.OwnerStartNs;
        string comm = c.OwnerComm;
        if (pid == 0 && life is not null && life.Pid != 0)
        {
            pid = life.Pid;
            comm = life.Comm;
            start = _latestByPid.TryGetValue(pid, out ProcessKey k) ? k.StartNs : 0;
        }
        Role role = Role.None;
        if ((c.Flags & TopConnFlags.Active) != 0 || life?.Role == Role.Connector)
            role = Role.Connector;
        else if ((c.Flags & TopConnFlags.Passive) != 0 || life?.Role == Role.Acceptor)
            role = Role.Acceptor;
        else if (c.RemotePort != 0 && c.Family != Events.Sock.AF_UNIX)
            role = Guess(proto, c.LocalPort, c.RemotePort, listeners);
        bool open = FrameBuilder.IsOpen(c, exited) && (life is null || life.ClosedNs == 0);
        return new SockView(c, life, role, pid, start, comm, proto, la, c.LocalPort, ra, c.RemotePort, open);
    }

    /// <summary>A socket whose start was not seen (it existed before sysstream attached): the end
    /// on a listening port is the server; else the end on an ephemeral port is the client.</summary>
    private Role Guess(string proto, ushort lport, ushort rport, IReadOnlyList<ListenerInfo> listeners)
    {
        bool localListens = listeners.Any(l => l.Proto == proto && l.Port == lport);
        if (localListens)
            return Role.Acceptor;
        bool remoteListens = listeners.Any(l => l.Proto == proto && l.Port == rport);
        if (remoteListens)
            return Role.Connector;
        bool lEph = lport >= _ephemeral.Low && lport <= _ephemeral.High;
        bool rEph = rport >= _ephemeral.Low && rport <= _ephemeral.High;
        if (lEph != rEph)
            return lEph ? Role.Connector : Role.Acceptor;
        return lport > rport ? Role.Connector : Role.Acceptor;
    }

    private static string Addr(IPAddress? a) => a is null ? "" : Endpoints.Normalize(a).ToString();

    /// <summary>Who serves a port on this host: listening sockets and unconnected sockets with a process.</summary>
    private sealed class ListenerIndex
    {
        private readonly Dictionary<(string Proto, ushort Port), List<(string Addr, int Pid)>> _ports = new();
        private readonly Dictionary<string, List<int>> _paths = new(StringComparer.Ordinal);

        public ListenerIndex(IReadOnlyList<ListenerInfo> listeners, List<SockView> sockets)
        {
            foreach (ListenerInfo l in listeners)
            {
                if (l.Path is not null)
                {
                    if (!_paths.TryGetValue(l.Path, out List<int>? pids))
                        _paths[l.Path] = pids = new();
                    pids.AddRange(l.Pids);
                    continue;
                }
                foreach (int pid in l.Pids.DefaultIfEmpty(0))
                    Add(l.Proto, l.Port, Endpoints.IsUnspecified(l.Address) ? "" : Addr(l.Address), pid);
            }
            // Unconnected UDP sockets the kernel counted: a local server even if /proc was not read yet.
            foreach (SockView s in sockets)
            {
                if (!s.HasPeer && s.LocalPort != 0 && s.OwnerPid != 0 && s.Proto != "unix")
                    Add(s.Proto, s.LocalPort, Endpoints.IsUnspecified(s.Row.LocalAddress) ? "" : s.LocalAddr, s.OwnerPid);
            }
        }

        private void Add(string proto, ushort port, string addr, int pid)
        {
            if (!_ports.TryGetValue((proto, port), out var list))
                _ports[(proto, port)] = list = new();
            if (!list.Contains((addr, pid)))
                list.Add((addr, pid));
        }

        /// <summary>The process serving proto/port at an address of this host; 0 when none is known.
        /// Of several holders (a master and its workers) the lowest pid with a process is taken.</summary>
        public int Server(string proto, string addr, ushort port)
        {
            if (!_ports.TryGetValue((proto, port), out var list))
                return 0;
            int best = 0;
            foreach ((string a, int pid) in list)
            {
                if (pid == 0 || (a.Length > 0 && a != addr))
                    continue;
                if (best == 0 || pid < best)
                    best = pid;
            }
            return best;
        }

        public bool Listens(string proto, string addr, ushort port) =>
            _ports.TryGetValue((proto, port), out var list) && list.Any(x => x.Addr.Length == 0 || x.Addr == addr);

        public int UnixServer(string path) =>
            _paths.TryGetValue(path, out List<int>? pids) && pids.Count > 0 ? pids.Min() : 0;
    }

    // ------------------------------------------------------------------ connections

    private sealed record LiveConn(FlowConnection Conn, bool Synthetic);

    private Endpoint ProcessEndpoint(int pid, ulong startNs)
    {
        if (startNs == 0 && _latestByPid.TryGetValue(pid, out ProcessKey k))
            startNs = k.StartNs;
        return Endpoint.OfProcess(pid, startNs);
    }

    /// <summary>The serving end for an address and port that a client of this host went to.</summary>
    private Endpoint ServerFor(string proto, string addr, ushort port, ListenerIndex listeners, LocalAddresses local, out int pid)
    {
        string service = port.ToString(CultureInfo.InvariantCulture);
        pid = 0;
        if (local.Contains(addr))
        {
            pid = listeners.Server(proto, addr, port);
            return pid != 0 ? ProcessEndpoint(pid, 0) : Endpoint.OfLocal(addr, service);
        }
        return Endpoint.OfRemote(addr, service);
    }

    private LiveConn FromConnector(SockView s, SockView? peer, ListenerIndex listeners, LocalAddresses local, HashSet<ProcessKey> exited)
    {
        ConnectionTotals c = s.Row;
        string service = s.RemotePort.ToString(CultureInfo.InvariantCulture);
        Endpoint client = s.OwnerPid != 0 ? ProcessEndpoint(s.OwnerPid, s.OwnerStartNs) : Endpoint.OfLocal(s.LocalAddr, "");
        Endpoint server;
        int serverPid;
        string serverComm = "";
        if (s.Proto == "unix")
        {
            service = s.Life?.RemotePath ?? "";
            serverPid = service.Length > 0 ? listeners.UnixServer(service) : 0;
            if (serverPid == 0 && service.Length > 0 && _unixAcceptors.TryGetValue(service, out var acc))
                serverPid = acc.Pid;
            server = serverPid != 0 ? ProcessEndpoint(serverPid, 0) : Endpoint.OfLocal("unix", service);
            serverComm = serverPid != 0 ? CommOf(serverPid) : "";
        }
        else if (peer is not null && peer.OwnerPid != 0)
        {
            server = ProcessEndpoint(peer.OwnerPid, peer.OwnerStartNs);
            serverPid = peer.OwnerPid;
            serverComm = peer.OwnerComm;
        }
        else if (s.RemotePort == 0)
        {
            server = Endpoint.OfLocal(s.RemoteAddr, "");
            serverPid = 0;
        }
        else
        {
            server = ServerFor(s.Proto, s.RemoteAddr, s.RemotePort, listeners, local, out serverPid);
            if (serverPid != 0)
                serverComm = CommOf(serverPid);
        }

        bool failed = (c.Flags & TopConnFlags.Failed) != 0 || s.Life?.Error is not null;
        string? error = failed ? ErrorOf(c, s.Life) : null;
        ulong? connectUs = s.Life?.ConnectUs;
        if (connectUs is null && peer is not null && c.IsTcp && (c.Flags & TopConnFlags.Active) != 0
            && (peer.Row.Flags & TopConnFlags.Passive) != 0 && peer.Row.FirstNs >= c.FirstNs && c.FirstNs != 0)
            connectUs = (peer.Row.FirstNs - c.FirstNs) / 1000;
        bool open = !failed && s.Open && (peer is null || peer.Open || !c.IsTcp);
        var conn = new FlowConnection
        {
            Id = c.Cookie,
            PeerId = peer?.Row.Cookie ?? 0,
            Key = new FlowKey(client, server, s.Proto, service),
            ClientAddress = s.Proto == "unix" ? "" : Endpoints.Format(c.LocalAddress, c.LocalPort),
            ServerAddress = s.Proto == "unix" ? service : Endpoints.Format(c.RemoteAddress, c.RemotePort),
            ClientPid = s.OwnerPid,
            ClientComm = s.OwnerComm,
            ServerPid = serverPid,
            ServerComm = serverComm,
            State = failed ? "FAILED" : StateOf(c, open),
            Open = open,
            Failed = failed,
            Error = error,
            BytesToServer = c.TxBytes,
            // What the server sent, when its socket is seen; else what the client received.
            BytesToClient = peer is not null ? Math.Max(peer.Row.TxBytes, c.RxBytes) : c.RxBytes,
            DatagramsToServer = c.IsUdp ? c.TxCalls : null,
            DatagramsToClient = c.IsUdp ? (peer is not null ? Math.Max(peer.Row.TxCalls, c.RxCalls) : c.RxCalls) : null,
            ConnectUs = failed ? null : connectUs,
            RttUs = c.SrttUs != 0 ? c.SrttUs : peer?.Row.SrttUs ?? 0,
            FirstResponseUs = FirstResponse(c.Cookie),
            OpenedNs = c.FirstNs,
            ClosedNs = open ? 0 : Math.Max(c.CloseNs, s.Life?.ClosedNs ?? 0),
        };
        return new LiveConn(conn, false);
    }

    private LiveConn FromAcceptor(SockView s, ListenerIndex listeners, LocalAddresses local, HashSet<ProcessKey> exited)
    {
        ConnectionTotals c = s.Row;
        string service = s.LocalPort.ToString(CultureInfo.InvariantCulture);
        Endpoint client = local.Contains(s.RemoteAddr) ? Endpoint.OfLocal(s.RemoteAddr, "") : Endpoint.OfRemote(s.RemoteAddr, "");
        Endpoint server;
        int serverPid = s.OwnerPid;
        string serverComm = s.OwnerComm;
        if (serverPid != 0)
        {
            server = ProcessEndpoint(serverPid, s.OwnerStartNs);
        }
        else
        {
            serverPid = listeners.Server(s.Proto, s.LocalAddr, s.LocalPort);
            server = serverPid != 0 ? ProcessEndpoint(serverPid, 0) : Endpoint.OfLocal(s.LocalAddr, service);
            serverComm = serverPid != 0 ? CommOf(serverPid) : "";
        }
        var conn = new FlowConnection
        {
            Id = c.Cookie,
            Key = new FlowKey(client, server, s.Proto, service),
            ClientAddress = Endpoints.Format(c.RemoteAddress, c.RemotePort),
            ServerAddress = Endpoints.Format(c.LocalAddress, c.LocalPort),
            ServerPid = serverPid,
            ServerComm = serverComm,
            State = StateOf(c, s.Open),
            Open = s.Open,
            BytesToServer = c.RxBytes,
            BytesToClient = c.TxBytes,
            DatagramsToServer = c.IsUdp ? c.RxCalls : null,
            DatagramsToClient = c.IsUdp ? c.TxCalls : null,
            RttUs = c.SrttUs,
            FirstResponseUs = FirstResponse(c.Cookie),
            OpenedNs = c.FirstNs,
            ClosedNs = s.Open ? 0 : Math.Max(c.CloseNs, s.Life?.ClosedNs ?? 0),
        };
        return new LiveConn(conn, false);
    }

    /// <summary>A connect known only from its event: unix sockets, or a failure that left no row.</summary>
    private LiveConn FromEvent(SocketEvent e, ListenerIndex listeners, LocalAddresses local)
    {
        bool failed = e.Ret < 0 && !IsInProgress(e.Error);
        Endpoint client = ProcessEndpoint(e.Pid, 0);
        Endpoint server;
        int serverPid = 0;
        string proto, service, serverAddress;
        if (e.Family == Events.Sock.AF_UNIX)
        {
            proto = "unix";
            service = e.RemotePath ?? "";
            serverAddress = service;
            if (!failed && service.Length > 0)
            {
                serverPid = listeners.UnixServer(service);
                if (serverPid == 0 && _unixAcceptors.TryGetValue(service, out var acc))
                    serverPid = acc.Pid;
            }
            server = serverPid != 0 ? ProcessEndpoint(serverPid, 0) : Endpoint.OfLocal("unix", service);
        }
        else
        {
            proto = Endpoints.Proto(e.Family, e.Protocol);
            service = e.RemotePort.ToString(CultureInfo.InvariantCulture);
            serverAddress = Endpoints.Format(e.RemoteAddress, e.RemotePort);
            string ra = Addr(e.RemoteAddress);
            server = failed && local.Contains(ra) && !listeners.Listens(proto, ra, e.RemotePort)
                ? Endpoint.OfLocal(ra, service)
                : ServerFor(proto, ra, e.RemotePort, listeners, local, out serverPid);
        }
        ulong id = e.Cookie != 0 ? e.Cookie : 0x8000_0000_0000_0000UL | (ulong)Interlocked.Increment(ref _syntheticIds);
        var conn = new FlowConnection
        {
            Id = id,
            Key = new FlowKey(client, server, proto, service),
            ClientAddress = e.Family == Events.Sock.AF_UNIX ? e.LocalPath ?? "" : Endpoints.Format(e.LocalAddress, e.LocalPort),
            ServerAddress = serverAddress,
            ClientPid = e.Pid,
            ClientComm = e.Comm,
            ServerPid = serverPid,
            ServerComm = serverPid != 0 ? CommOf(serverPid) : "",
            State = failed ? "FAILED" : "CONNECTED",
            Open = false,
            Failed = failed,
            Error = failed ? e.Error : null,
            ConnectUs = failed || e.Ret != 0 ? null : e.DurationNs / 1000,
            OpenedNs = e.TsNs - Math.Min(e.TsNs, e.DurationNs),
            ClosedNs = e.TsNs,
        };
        return new LiveConn(conn, true);
    }

    /// <summary>The error of a failed connect: what connect() returned, else what the kernel saw:
    /// an RST in answer to the SYN is a refusal; silence is a timeout (or a give-up).</summary>
    private static string ErrorOf(ConnectionTotals c, SocketLife? life)
    {
        if (life?.Error is { } e)
            return e;
        if ((c.Flags & TopConnFlags.RstRx) != 0)
            return "ECONNREFUSED";
        return "ETIMEDOUT";
    }

    private ulong? FirstResponse(ulong cookie) =>
        _firstResponse is not null && _firstResponse.TryGetValue(cookie, out ulong us) ? us : null;

    private static string StateOf(ConnectionTotals c, bool open)
    {
        if (c.IsTcp)
            return c.Closed ? "CLOSED" : Endpoints.TcpState(c.State);
        return open ? (c.State == 1 ? "CONNECTED" : "UNCONN") : "CLOSED";
    }

    private string CommOf(int pid) =>
        _latestByPid.TryGetValue(pid, out ProcessKey k) && _facts.TryGetValue(k, out ProcessFact? f) ? f.Comm : "";

    // ------------------------------------------------------------------ totals

    private sealed class FlowAccum
    {
        public long Opened, Failed;
        public readonly Dictionary<string, long> Errors = new(StringComparer.Ordinal);
        public ulong ToServer, ToClient;
        public ulong? DatagramsToServer, DatagramsToClient;
        public LatencySum Connect, Rtt, FirstResponse;
        public ulong FirstNs, LastNs;
        public readonly LinkedList<FlowConnection> Recent = new();
    }

    private FlowAccum Accum(FlowKey key)
    {
        if (!_flows.TryGetValue(key, out FlowAccum? a))
            _flows[key] = a = new FlowAccum();
        return a;
    }

    private void Retire(LiveConn live)
    {
        FlowConnection c = live.Conn;
        FlowAccum a = Accum(c.Key);
        a.Opened++;
        if (c.Failed)
        {
            a.Failed++;
            string err = c.Error ?? "unknown";
            a.Errors[err] = a.Errors.GetValueOrDefault(err) + 1;
        }
        a.ToServer += c.BytesToServer;
        a.ToClient += c.BytesToClient;
        if (c.DatagramsToServer is ulong ds)
            a.DatagramsToServer = (a.DatagramsToServer ?? 0) + ds;
        if (c.DatagramsToClient is ulong dc)
            a.DatagramsToClient = (a.DatagramsToClient ?? 0) + dc;
        if (c.ConnectUs is ulong cu)
            a.Connect = a.Connect.Add(cu);
        if (c.RttUs != 0)
            a.Rtt = a.Rtt.Add(c.RttUs);
        if (c.FirstResponseUs is ulong fr)
            a.FirstResponse = a.FirstResponse.Add(fr);
        Touch(a, c);
        var ended = c with { Open = false, RateToClient = 0, RateToServer = 0, State = c.Failed ? c.State : "CLOSED" };
        a.Recent.AddFirst(ended);
        while (a.Recent.Count > RecentPerFlow)
            a.Recent.RemoveLast();
    }

    private static void Touch(FlowAccum a, FlowConnection c)
    {
        ulong first = c.OpenedNs != 0 ? c.OpenedNs : c.ClosedNs;
        if (first != 0 && (a.FirstNs == 0 || first < a.FirstNs))
            a.FirstNs = first;
        a.LastNs = Math.Max(a.LastNs, Math.Max(c.ClosedNs, c.OpenedNs));
    }

    private List<Flow> BuildFlows(IEnumerable<LiveConn> live)
    {
        var byKey = new Dictionary<FlowKey, List<FlowConnection>>();
        foreach (LiveConn l in live)
        {
            if (!byKey.TryGetValue(l.Conn.Key, out var list))
                byKey[l.Conn.Key] = list = new();
            list.Add(l.Conn);
        }
        var flows = new List<Flow>(_flows.Count + byKey.Count);
        foreach (FlowKey key in _flows.Keys.Union(byKey.Keys))
        {
            _flows.TryGetValue(key, out FlowAccum? a);
            byKey.TryGetValue(key, out var conns);
            conns ??= [];
            long opened = a?.Opened ?? 0, failed = a?.Failed ?? 0, open = 0;
            var errors = a is null ? new Dictionary<string, long>(StringComparer.Ordinal) : new Dictionary<string, long>(a.Errors, StringComparer.Ordinal);
            ulong toServer = a?.ToServer ?? 0, toClient = a?.ToClient ?? 0;
            ulong? dgToServer = a?.DatagramsToServer, dgToClient = a?.DatagramsToClient;
            double rs = 0, rc = 0;
            LatencySum connect = a?.Connect ?? default, rtt = a?.Rtt ?? default, fr = a?.FirstResponse ?? default;
            ulong firstNs = a?.FirstNs ?? 0, lastNs = a?.LastNs ?? 0;
            foreach (FlowConnection c in conns)
            {
                opened++;
                if (c.Open)
                    open++;
                if (c.Failed)
                {
                    failed++;
                    string err = c.Error ?? "unknown";
                    errors[err] = errors.GetValueOrDefault(err) + 1;
                }
                toServer += c.BytesToServer;
                toClient += c.BytesToClient;
                if (c.DatagramsToServer is ulong ds)
                    dgToServer = (dgToServer ?? 0) + ds;
                if (c.DatagramsToClient is ulong dc)
                    dgToClient = (dgToClient ?? 0) + dc;
                rs += c.RateToServer;
                rc += c.RateToClient;
                if (c.ConnectUs is ulong cu)
                    connect = connect.Add(cu);
                if (c.RttUs != 0)
                    rtt = rtt.Add(c.RttUs);
                if (c.FirstResponseUs is ulong f)
                    fr = fr.Add(f);
                ulong first = c.OpenedNs != 0 ? c.OpenedNs : c.ClosedNs;
                if (first != 0 && (firstNs == 0 || first < firstNs))
                    firstNs = first;
                lastNs = Math.Max(lastNs, Math.Max(c.ClosedNs, c.OpenedNs));
            }
            var shown = conns.OrderByDescending(c => c.BytesToClient + c.BytesToServer).ThenBy(c => c.Id).ToList();
            if (a is not null)
                shown.AddRange(a.Recent);
            flows.Add(new Flow
            {
                Key = key,
                Opened = opened,
                Open = open,
                Failed = failed,
                Errors = errors,
                BytesToServer = toServer,
                BytesToClient = toClient,
                DatagramsToServer = dgToServer,
                DatagramsToClient = dgToClient,
                RateToServer = rs,
                RateToClient = rc,
                Connect = connect,
                Rtt = rtt,
                FirstResponse = fr,
                FirstNs = firstNs,
                LastNs = lastNs,
                Connections = shown,
            });
        }
        return flows;
    }

    // ------------------------------------------------------------------ processes

    private void RefreshFacts(TopSnapshot snapshot)
    {
        foreach (ProcessTotals p in snapshot.Processes)
        {
            _facts.TryGetValue(p.Key, out ProcessFact? known);
            ProcessFact fact = known is null || known.Exe.Length == 0 || known.Comm != p.Comm
                ? _directory.Describe(p.Pid, p.StartNs, p.Comm, p.Uid)
                : known;
            _facts[p.Key] = fact with { Exited = p.Exited, TxBytes = p.TxBytes, RxBytes = p.RxBytes, Comm = p.Comm.Length > 0 ? p.Comm : fact.Comm };
            if (!_latestByPid.TryGetValue(p.Pid, out ProcessKey k) || k.StartNs <= p.StartNs)
                _latestByPid[p.Pid] = p.Key;
        }
    }

    private Dictionary<int, ProcessFact> ProcessesFor(IEnumerable<LiveConn> live, IReadOnlyList<ListenerInfo> listeners)
    {
        var result = new Dictionary<int, ProcessFact>();
        void Add(Endpoint e, string comm)
        {
            if (e.Kind != EndpointKind.Process || result.ContainsKey(e.Pid))
                return;
            result[e.Pid] = FactOf(e.Pid, e.StartNs, comm);
        }
        foreach (FlowKey key in _flows.Keys)
        {
            Add(key.Client, "");
            Add(key.Server, "");
        }
        foreach (LiveConn l in live)
        {
            Add(l.Conn.Key.Client, l.Conn.ClientComm);
            Add(l.Conn.Key.Server, l.Conn.ServerComm);
        }
        foreach (ListenerInfo l in listeners)
            foreach (int pid in l.Pids)
                if (!result.ContainsKey(pid))
                    result[pid] = FactOf(pid, 0, "");
        return result;
    }

    private ProcessFact FactOf(int pid, ulong startNs, string comm)
    {
        if (_facts.TryGetValue(new ProcessKey(pid, startNs), out ProcessFact? f))
            return f;
        if (_latestByPid.TryGetValue(pid, out ProcessKey k) && _facts.TryGetValue(k, out f))
            return f;
        // Known only from an event or /proc (a listener that never moved a byte): ask /proc and keep it.
        f = _directory.Describe(pid, startNs, comm, 0);
        var key = new ProcessKey(pid, startNs);
        _facts[key] = f;
        _latestByPid.TryAdd(pid, key);
        return f;
    }
}

/// <summary>This host's addresses (loopback always): tells local peers from remote ones.</summary>
public sealed class LocalAddresses
{
    private readonly HashSet<string> _addresses;

    public LocalAddresses(IEnumerable<string> addresses) => _addresses = new HashSet<string>(addresses, StringComparer.Ordinal);

    public static LocalAddresses LoopbackOnly { get; } = new([]);

    public bool Contains(string address)
    {
        if (address.Length == 0)
            return false;
        if (_addresses.Contains(address))
            return true;
        return IPAddress.TryParse(address, out IPAddress? a) && (IPAddress.IsLoopback(a) || a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any));
    }

    /// <summary>The addresses of this host's interfaces now (in sysstream's own network namespace).</summary>
    public static LocalAddresses FromSystem()
    {
        var list = new List<string>();
        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
                foreach (var u in nic.GetIPProperties().UnicastAddresses)
                    list.Add(Endpoints.Normalize(u.Address).ToString());
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
        }
        return new LocalAddresses(list);
    }
}
