using Sysstream.Events;
using Sysstream.Proc;
using Sysstream.Sockets;
using Sysstream.Top.Netstat;
using Xunit;

namespace Sysstream.Tests.Top;

public sealed class ProcNetTests : IDisposable
{
    // Recorded from a real /proc/net (inodes and ports changed).
    public const string Tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000    33        0 5001 1 0000000000000000 100 0 0 10 0
           1: 0100007F:9C40 0100007F:1F90 01 00000010:00000000 00:00000000 00000000  1000        0 5002 1 0000000000000000 20 4 30 10 -1
           2: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000    33        0 5003 1 0000000000000000 20 4 31 10 -1
           3: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 03:00001700 00000000     0        0 0 3 0000000000000000
        """;

    public const string Tcp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6001 1 0000000000000000 100 0 0 10 0
           1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 6002 1 0000000000000000 20 4 30 10 -1
        """;

    public const string Udp = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
          100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 7001 2 0000000000000000 0
          101: 0100007F:C350 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 7002 2 0000000000000000 0
        """;

    public const string Unix = """
        Num       RefCount Protocol Flags    Type St Inode Path
        0000000000000000: 00000002 00000000 00010000 0001 01 8001 /run/test.sock
        0000000000000000: 00000003 00000000 00000000 0001 03 8002
        0000000000000000: 00000002 00000000 00000000 0002 01 8003 @abstract name
        garbage line
        """;

    private readonly string _root = Directory.CreateTempSubdirectory("ss-netstat-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Tcp_Listener_Connection_TimeWait()
    {
        List<NetSocket> s = ProcNet.ParseInet(Tcp, "tcp", 99);
        Assert.Equal(4, s.Count);
        NetSocket l = s[0];
        Assert.Equal("127.0.0.1", l.LocalAddress!.ToString());
        Assert.Equal(8080, l.LocalPort);
        Assert.Equal(10, l.State);
        Assert.True(l.Listening);
        Assert.Equal(3UL, l.RecvQueue);
        Assert.Equal(33U, l.Uid);
        Assert.Equal(5001UL, l.Inode);
        Assert.Equal(99UL, l.Netns);
        Assert.Equal(Sock.AF_INET, l.Family);
        Assert.Equal(40000, s[1].LocalPort);
        Assert.Equal(0x10UL, s[1].SendQueue);
        Assert.False(s[1].Listening);
        Assert.Equal(0UL, s[3].Inode);
        Assert.Equal(6, s[3].State);
    }

    [Fact]
    public void Tcp6_LoopbackAndV4Mapped()
    {
        List<NetSocket> s = ProcNet.ParseInet(Tcp6, "tcp");
        Assert.Equal("::1", s[0].LocalAddress!.ToString());
        Assert.Equal(80, s[0].LocalPort);
        Assert.Equal(Sock.AF_INET6, s[0].Family);
        Assert.Equal("127.0.0.1", s[1].LocalAddress!.ToString());
        Assert.Equal(0xD431, s[1].RemotePort);
    }

    [Fact]
    public void Udp_UnconnectedIsListening()
    {
        List<NetSocket> s = ProcNet.ParseInet(Udp, "udp");
        Assert.True(s[0].Listening);
        Assert.Equal(53, s[0].LocalPort);
        Assert.Equal("0.0.0.0", s[0].LocalAddress!.ToString());
        Assert.False(s[1].Listening);
        Assert.Equal(53, s[1].RemotePort);
    }

    [Fact]
    public void Unix_PathsStatesTypes_GarbageSkipped()
    {
        List<NetSocket> s = ProcNet.ParseUnix(Unix);
        Assert.Equal(3, s.Count);
        Assert.True(s[0].Listening);
        Assert.Equal("/run/test.sock", s[0].Path);
        Assert.Equal("LISTEN", ProcNet.UnixState(s[0]));
        Assert.Equal("ESTABLISHED", ProcNet.UnixState(s[1]));
        Assert.Equal("", s[1].Path);
        Assert.Equal("@abstract name", s[2].Path);
        Assert.Equal("dgram", ProcNet.UnixType(s[2].SocketType));
    }

    [Fact]
    public void Endpoint_RejectsMalformed()
    {
        Assert.False(ProcNet.TryEndpoint("0100007F", out _, out _));
        Assert.False(ProcNet.TryEndpoint("01007F:0050", out _, out _));
        Assert.False(ProcNet.TryEndpoint("XXXXXXXX:0050", out _, out _));
        Assert.Equal(2UL, SocketInventory.ParseLinkNumber("socket:[2]", "socket:["));
        Assert.Null(SocketInventory.ParseLinkNumber("pipe:[2]", "socket:["));
    }

    /// <summary>A /proc tree: nginx (pid 100, worker 101 sharing the listener), a client (200), a process in another namespace.</summary>
    private SocketInventory Fixture()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "etc/passwd"), "root:x:0:0::/:/bin/sh\nwww-data:x:33:33::/:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n");
        File.WriteAllText(Path.Combine(_root, "etc/group"), "root:x:0:\n");
        string net = Path.Combine(_root, "proc", "net");
        Directory.CreateDirectory(net);
        File.WriteAllText(Path.Combine(net, "tcp"), Tcp);
        File.WriteAllText(Path.Combine(net, "udp"), Udp);
        File.WriteAllText(Path.Combine(net, "unix"), Unix);
        Process(100, "nginx", 33, ns: 1, fds: [(4, "socket:[5001]"), (5, "/dev/null")]);
        Process(101, "nginx", 33, ns: 1, fds: [(4, "socket:[5001]"), (9, "socket:[5003]")]);
        Process(200, "curl", 1000, ns: 1, fds: [(3, "socket:[5002]"), (4, "socket:[8001]")]);
        Process(300, "sleeper", 0, ns: 2, fds: [(0, "socket:[9001]")]);
        string other = Path.Combine(_root, "proc", "300", "net");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "tcp"), """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 100 0 0 10 0
            """);
        return new SocketInventory(new ProcessTable(_root), _root);
    }

    private void Process(int pid, string comm, uint uid, ulong ns, (int Fd, string Target)[] fds)
    {
        string dir = Path.Combine(_root, "proc", pid.ToString());
        Directory.CreateDirectory(Path.Combine(dir, "fd"));
        Directory.CreateDirectory(Path.Combine(dir, "ns"));
        string fields = "S 1 " + string.Join(' ', Enumerable.Repeat("0", 17)) + " 555 " + string.Join(' ', Enumerable.Repeat("0", 30));
        File.WriteAllText(Path.Combine(dir, "stat"), $"{pid} ({comm}) {fields}\n");
        File.WriteAllText(Path.Combine(dir, "status"), $"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t0\t0\t0\t0\n");
        File.WriteAllText(Path.Combine(dir, "cmdline"), comm + "\0");
        File.CreateSymbolicLink(Path.Combine(dir, "ns", "net"), $"net:[{ns}]");
        foreach ((int fd, string target) in fds)
            File.CreateSymbolicLink(Path.Combine(dir, "fd", fd.ToString()), target);
    }

    [Fact]
    public void Inventory_EveryHolderOfASocket_PeersOfLocalConnections_OtherNamespaces()
    {
        IReadOnlyList<SocketEntry> all = Fixture().Collect();

        SocketEntry listener = all.Single(e => e.Socket.Inode == 5001);
        Assert.Equal([(100, 4), (101, 4)], listener.Owners.Select(o => (o.Pid, o.Fd)));
        Assert.All(listener.Owners, o => Assert.Equal("www-data", o.User));
        Assert.All(listener.Owners, o => Assert.Equal("nginx", o.Comm));

        SocketEntry client = all.Single(e => e.Socket.Inode == 5002);
        Assert.Equal(200, Assert.Single(client.Owners).Pid);
        Assert.Equal(5003UL, client.PeerInode);
        Assert.Equal(101, Assert.Single(client.PeerOwners).Pid);
        SocketEntry server = all.Single(e => e.Socket.Inode == 5003);
        Assert.Equal(5002UL, server.PeerInode);
        Assert.Equal("alice", Assert.Single(server.PeerOwners).User);

        SocketEntry elsewhere = all.Single(e => e.Socket.Inode == 9001);
        Assert.Equal(300, Assert.Single(elsewhere.Owners).Pid);
        Assert.Equal(2UL, elsewhere.Socket.Netns);

        Assert.Contains(all, e => e.Socket.Inode == 0 && e.Socket.State == 6); // TIME_WAIT, no owner
        Assert.Equal(200, all.Single(e => e.Socket.Inode == 8001).Owners[0].Pid);
    }

    [Fact]
    public void NetstatRows_FilterSortAndPrint()
    {
        IReadOnlyList<SocketEntry> all = Fixture().Collect();
        var users = new UserNames(_root);

        var listening = NetstatRows.Build(all, new NetstatFilter { ListenOnly = true }, null);
        Assert.Equal(["tcp", "tcp", "udp", "unix"], listening.Select(r => r.Socket.Proto));
        Assert.All(listening, r => Assert.True(r.Socket.Listening));

        var byPid = NetstatRows.Build(all, new NetstatFilter { Pids = new HashSet<int> { 101 } }, null);
        Assert.Equal([5001UL, 5003UL], byPid.Select(r => r.Socket.Inode).Order());

        var byPort = NetstatRows.Build(all, new NetstatFilter { Ports = new HashSet<int> { 53 }, Protos = new HashSet<string> { "udp" } }, null);
        Assert.Equal(2, byPort.Count);

        IReadOnlyList<string> table = NetstatWriter.Table(listening, users.User, traffic: false);
        Assert.StartsWith("PROTO", table[0]);
        Assert.DoesNotContain("AGE", table[0]);
        Assert.Contains(table, l => l.Contains("LISTEN") && l.Contains("127.0.0.1:8080") && l.Contains("100/nginx(fd 4),101/nginx(fd 4)"));
        Assert.Contains(table, l => l.StartsWith("udp") && l.Contains("*:53") && l.Contains("UNCONN"));
    }

    [Fact]
    public void NetstatJson_OwnersPeerAndNullTraffic()
    {
        IReadOnlyList<SocketEntry> all = Fixture().Collect();
        var rows = NetstatRows.Build(all, new NetstatFilter { Protos = new HashSet<string> { "tcp" } }, null);
        var ms = new MemoryStream();
        NetstatWriter.Json(ms, rows, new UserNames(_root).User, new EventClock(0), 1_700_000_000_000_000_000);

        using var doc = System.Text.Json.JsonDocument.Parse(ms.ToArray());
        var sockets = doc.RootElement.GetProperty("sockets").EnumerateArray().ToList();
        var l = sockets.Single(s => s.GetProperty("inode").GetUInt64() == 5001);
        Assert.Equal("LISTEN", l.GetProperty("state").GetString());
        Assert.Equal(8080, l.GetProperty("lport").GetInt32());
        Assert.Equal("www-data", l.GetProperty("user").GetString());
        Assert.Equal(2, l.GetProperty("owners").GetArrayLength());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, l.GetProperty("tx_bytes").ValueKind);
        var c = sockets.Single(s => s.GetProperty("inode").GetUInt64() == 5002);
        Assert.Equal(101, c.GetProperty("peer").GetProperty("owners")[0].GetProperty("pid").GetInt32());
        Assert.Equal("2023-11-14T22:13:20.000000000Z", doc.RootElement.GetProperty("ts").GetString());
    }
}
