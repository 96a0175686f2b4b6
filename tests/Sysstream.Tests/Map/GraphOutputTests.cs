using System.Net;
using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Cli.Commands;
using Sysstream.Events;
using Sysstream.Graph;
using Sysstream.Map;
using Xunit;

namespace Sysstream.Tests.Map;

public sealed class GraphOutputTests
{
    private const ulong S = Rows.S;

    private static MapGraph Sample()
    {
        var dir = new FakeDirectory();
        dir.Known[100] = ("/usr/bin/curl", "root", "");
        dir.Known[200] = ("/usr/sbin/nginx", "www-data", "");
        var b = new FlowBuilder(dir);
        ProcessTotals[] procs = [Rows.Proc(100, "curl"), Rows.Proc(200, "nginx", 33)];
        FlowSet set = b.Update(Rows.Snap(2 * S, procs,
            Rows.Tcp(1, "127.0.0.1", 40000, "127.0.0.1", 80, 100, "curl", TopConnFlags.Active, 78, 5288),
            Rows.Tcp(2, "127.0.0.1", 80, "127.0.0.1", 40000, 200, "nginx", TopConnFlags.Passive, 5288, 78),
            Rows.Tcp(3, "127.0.0.1", 0, "127.0.0.1", 9, 100, "curl", TopConnFlags.Active | TopConnFlags.Failed | TopConnFlags.RstRx, close: S)),
            [], [Rows.Listen("tcp", "127.0.0.1", 80, 200)], LocalAddresses.LoopbackOnly, realtimeOffsetNs: 1_700_000_000L * 1_000_000_000L);
        return GraphProjector.Project(set, GroupBy.ExeUser);
    }

    [Fact]
    public void Json_follows_the_documented_schema()
    {
        using var doc = JsonDocument.Parse(GraphWriters.Json(Sample()));
        JsonElement root = doc.RootElement;
        Assert.Equal("exe-user", root.GetProperty("group_by").GetString());
        Assert.EndsWith("Z", root.GetProperty("time").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("2023-11-14T22:13:22", root.GetProperty("time").GetString(), StringComparison.Ordinal);
        JsonElement node = root.GetProperty("nodes").EnumerateArray().First(n => n.GetProperty("label").GetString() == "nginx (www-data)");
        foreach (string key in new[] { "id", "kind", "label", "exe", "user", "pids", "processes", "listening", "tx_bytes", "rx_bytes", "tx_rate", "rx_rate" })
            Assert.True(node.TryGetProperty(key, out _), "node lacks " + key);
        Assert.Equal("tcp 127.0.0.1:80", node.GetProperty("listening")[0].GetProperty("display").GetString());
        JsonElement edge = root.GetProperty("edges").EnumerateArray().First(e => e.GetProperty("failed").GetInt64() == 0);
        foreach (string key in new[] { "id", "from", "to", "proto", "ports", "local", "opened", "open", "failed", "errors", "bytes_to_server",
                     "bytes_to_client", "datagrams_to_server", "datagrams_to_client", "rate_to_server", "rate_to_client", "connect_us", "rtt_us", "first_response_us", "first_seen", "last_seen", "connections" })
            Assert.True(edge.TryGetProperty(key, out _), "edge lacks " + key);
        Assert.Equal(78, edge.GetProperty("bytes_to_server").GetInt64());
        JsonElement conn = edge.GetProperty("connections")[0];
        Assert.Equal(100, conn.GetProperty("client_pid").GetInt32());
        Assert.Equal("127.0.0.1:80", conn.GetProperty("server").GetString());
        JsonElement failed = root.GetProperty("edges").EnumerateArray().First(e => e.GetProperty("failed").GetInt64() == 1);
        Assert.Equal(1, failed.GetProperty("errors").GetProperty("ECONNREFUSED").GetInt64());
        Assert.Equal(2, root.GetProperty("totals").GetProperty("edges").GetInt32());
    }

    [Fact]
    public void Dot_is_a_digraph_with_quoted_ids_and_escaped_labels()
    {
        string dot = GraphWriters.Dot(Sample());
        Assert.StartsWith("digraph sysstream {", dot, StringComparison.Ordinal);
        Assert.EndsWith("}\n", dot, StringComparison.Ordinal);
        Assert.Contains("\"app:/usr/bin/curl@root\" -> \"app:/usr/sbin/nginx@www-data\"", dot, StringComparison.Ordinal);
        Assert.Contains("\"app:/usr/bin/curl@root\" -> \"local:127.0.0.1:9\"", dot, StringComparison.Ordinal);
        Assert.Contains("style=dashed", dot, StringComparison.Ordinal);
        Assert.Equal("\"a \\\"b\\\" \\\\c\\nd\"", GraphWriters.Quote("a \"b\" \\c\nd"));
        // every quote is balanced: an odd count would break the parser
        foreach (string line in dot.Split('\n'))
            Assert.True(line.Replace("\\\"", "", StringComparison.Ordinal).Count(c => c == '"') % 2 == 0, line);
    }

    [Fact]
    public void Mermaid_is_a_left_to_right_flowchart()
    {
        string m = GraphWriters.Mermaid(Sample());
        Assert.StartsWith("flowchart LR\n", m, StringComparison.Ordinal);
        Assert.Contains("-->|\"tcp/80", m, StringComparison.Ordinal);
        Assert.Contains("linkStyle", m, StringComparison.Ordinal);
        Assert.DoesNotContain("\"\"", m, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_fits_in_80_columns_and_lists_edges_by_traffic()
    {
        string[] lines = GraphWriters.Text(Sample(), 80).Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length}: {l}"));
        Assert.Contains(lines, l => l.StartsWith("curl (root)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("-> nginx (www-data)", StringComparison.Ordinal) && l.Contains("1 conn", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("1 failed ECONNREFUSED", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("listens tcp 127.0.0.1:80", StringComparison.Ordinal));
    }

    [Fact]
    public void Screen_scrolls_filters_and_cycles_grouping()
    {
        MapGraph g = Sample();
        var s = new MapScreenState();
        s = MapScreen.Apply(s, MapKey.Char, 'g', 20);
        Assert.Equal(GroupBy.Pid, s.GroupBy);
        s = MapScreen.Apply(s, MapKey.Char, '/', 20);
        Assert.True(s.EditingFilter);
        foreach (char c in "nginx")
            s = MapScreen.Apply(s, MapKey.Char, c, 20);
        s = MapScreen.Apply(s, MapKey.Enter, '\r', 20);
        Assert.Equal("nginx", s.Filter);
        IReadOnlyList<string> screen = MapScreen.Render(s, g, 80, 24, "12:00:00", out _);
        Assert.Equal(24, screen.Count);
        Assert.All(screen, l => Assert.True(l.Length <= 80));
        Assert.StartsWith("sysstream map", screen[0], StringComparison.Ordinal);
        Assert.Contains(screen, l => l.StartsWith("nginx (www-data)", StringComparison.Ordinal));
        Assert.DoesNotContain(screen, l => l.StartsWith("127.0.0.1:9", StringComparison.Ordinal));
        s = MapScreen.Apply(s, MapKey.End, '\0', 20);
        MapScreen.Render(s, g, 80, 24, "12:00:00", out MapScreenState clamped);
        Assert.True(clamped.Scroll >= 0 && clamped.Scroll < 100);
        Assert.True(MapScreen.Apply(new MapScreenState(), MapKey.Char, 'q', 20).Quit);
    }

    [Theory]
    [InlineData("127.0.0.1:7070", "127.0.0.1", 7070)]
    [InlineData("[::1]:8080", "::1", 8080)]
    [InlineData("localhost:9000", "127.0.0.1", 9000)]
    [InlineData(":7070", "0.0.0.0", 7070)]
    [InlineData("10.1.2.3:0", "10.1.2.3", 0)]
    public void Listen_addresses_parse(string text, string address, int port)
    {
        Assert.True(ServeCommand.TryParseListen(text, out IPEndPoint? ep));
        Assert.Equal(IPAddress.Parse(address), ep!.Address);
        Assert.Equal(port, ep.Port);
    }

    [Theory]
    [InlineData("7070")]
    [InlineData("example.com:80")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("127.0.0.1:")]
    public void Bad_listen_addresses_are_refused(string text) => Assert.False(ServeCommand.TryParseListen(text, out _));

    [Fact]
    public void Listeners_come_from_proc_net_with_the_pids_holding_them()
    {
        string root = Path.Combine(Path.GetTempPath(), "ss-listeners-" + Guid.NewGuid().ToString("N"));
        try
        {
            string net = Path.Combine(root, "proc", "net");
            Directory.CreateDirectory(net);
            const string header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
            File.WriteAllText(Path.Combine(net, "tcp"), header
                + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n"
                // an established connection: not a listener
                + "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1\n");
            File.WriteAllText(Path.Combine(net, "udp6"), header
                + "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   0 0 777 2 0\n");
            File.WriteAllText(Path.Combine(net, "unix"), "Num       RefCount Protocol Flags    Type St Inode Path\n"
                + "0000000000000000: 00000002 00000000 00010000 0001 01 888 /run/test.sock\n");
            string fd = Path.Combine(root, "proc", "4242", "fd");
            Directory.CreateDirectory(fd);
            File.CreateSymbolicLink(Path.Combine(fd, "3"), "socket:[12345]");
            File.CreateSymbolicLink(Path.Combine(fd, "4"), "socket:[777]");
            File.CreateSymbolicLink(Path.Combine(fd, "5"), "socket:[12346]");
            File.CreateSymbolicLink(Path.Combine(fd, "6"), "socket:[888]");

            var found = new ListenerScanner(root).Scan().OrderBy(l => l.Inode).ToList();

            Assert.Equal([777UL, 888UL, 12345UL], found.Select(l => l.Inode));
            Assert.Equal(("udp", IPAddress.IPv6Loopback, (ushort)53), (found[0].Proto, found[0].Address, found[0].Port));
            Assert.Equal(("unix", "/run/test.sock"), (found[1].Proto, found[1].Path));
            Assert.Equal(("tcp", IPAddress.Loopback, (ushort)8080), (found[2].Proto, found[2].Address, found[2].Port));
            Assert.All(found, l => Assert.Equal([4242], l.Pids));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Reverse_names_never_block_and_are_used_when_they_come()
    {
        var gate = new TaskCompletionSource<string?>();
        using var dns = new ReverseDns(TimeSpan.FromSeconds(5), resolve: (_, _) => gate.Task);
        var a = IPAddress.Parse("198.51.100.7");
        Assert.Null(dns.TryGet(a));
        Assert.Null(dns.TryGet(IPAddress.Loopback));
        gate.SetResult("host.example");
        for (int i = 0; i < 100 && dns.TryGet(a) is null; i++)
            await Task.Delay(10);
        Assert.Equal("host.example", dns.TryGet(a));
    }

    [Fact]
    public void Recorded_system_calls_add_up_to_a_map_with_first_response_times()
    {
        var totals = new EventTotals();
        var noPaths = default(UnixPaths);
        SyscallEvent Ev(Func f, uint pid, string comm, ulong cookie, ushort lport, ushort rport, long ret, ulong ts, ulong dur = 0)
        {
            var e = new SyscallEvent { Type = (ushort)EventType.Syscall, Phase = 1, Func = (byte)f, Pid = pid, TsNs = ts, Ret = ret, DurationNs = dur, Flags = (uint)EventFlags.Sock };
            e.Sk.Cookie = cookie;
            e.Sk.Family = Sock.AF_INET;
            e.Sk.Protocol = Sock.IPPROTO_TCP;
            e.Sk.Lport = lport;
            e.Sk.Rport = rport;
            unsafe
            {
                byte* l = e.Sk.Laddr, r = e.Sk.Raddr;
                l[10] = r[10] = 0xff; l[11] = r[11] = 0xff; l[12] = r[12] = 127; l[15] = r[15] = 1;
                byte[] name = System.Text.Encoding.ASCII.GetBytes(comm);
                for (int i = 0; i < name.Length; i++)
                    e.Comm[i] = name[i];
            }
            return e;
        }
        void Feed(SyscallEvent e) => totals.OnSyscall(in e, in noPaths, false);
        Feed(Ev(Func.Connect, 10, "client", 1, 5000, 80, 0, 1000, 100));
        Feed(Ev(Func.Accept4, 20, "server", 2, 80, 5000, 4, 1200));
        Feed(Ev(Func.Sendto, 10, "client", 1, 5000, 80, 50, 2000));
        Feed(Ev(Func.Recvfrom, 20, "server", 2, 80, 5000, 50, 2500));
        Feed(Ev(Func.Sendto, 20, "server", 2, 80, 5000, 700, 9000));
        Feed(Ev(Func.Recvfrom, 10, "client", 1, 5000, 80, 700, 12_000));
        var b = new FlowBuilder(new FakeDirectory());
        FlowSet set = b.Update(totals.Snapshot(), totals.Events(), [], LocalAddresses.LoopbackOnly, 0, 0, totals.FirstResponseUs());
        MapEdge e = Assert.Single(GraphProjector.Project(set, GroupBy.Pid).Edges);
        Assert.Equal("pid:10", e.From);
        Assert.Equal("pid:20", e.To);
        Assert.Equal(50UL, e.BytesToServer);
        Assert.Equal(700UL, e.BytesToClient);
        Assert.Equal(10UL, e.FirstResponseUs!.Max); // 2000 ns -> 12000 ns
    }
}
