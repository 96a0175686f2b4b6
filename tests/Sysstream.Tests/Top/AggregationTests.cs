using System.Text;
using Sysstream.Aggregation;
using Sysstream.Events;
using Xunit;
using static Sysstream.Tests.Top.TopFixtures;

namespace Sysstream.Tests.Top;

public sealed class AggregationTests
{
    private static unsafe TopProc Cpu(ulong tx, ulong rx, ulong first, ulong last, ulong factsNs = 0, string comm = "",
        uint uid = 0, uint ppid = 0, ulong exitNs = 0, ulong connects = 0)
    {
        var p = new TopProc
        {
            TxBytes = tx, RxBytes = rx, TxCalls = tx > 0 ? 1UL : 0, RxCalls = rx > 0 ? 1UL : 0,
            FirstNs = first, LastNs = last, FactsNs = factsNs, Uid = uid, Ppid = ppid, ExitNs = exitNs, Connects = connects,
        };
        byte[] b = Encoding.UTF8.GetBytes(comm);
        for (int i = 0; i < b.Length && i < 16; i++)
            p.Comm[i] = b[i];
        return p;
    }

    [Fact]
    public void Merge_SumsCpus_TakesLatestFacts_AndTheExit()
    {
        var key = new TopPkey { Tgid = 42, StartNs = 777 };
        TopProc[] cpus =
        [
            Cpu(100, 5, first: 50, last: 60, factsNs: 50, comm: "sh", uid: 1000, ppid: 7, connects: 1),
            Cpu(20, 7, first: 40, last: 90, factsNs: 80, comm: "curl", uid: 1000, ppid: 7),
            Cpu(0, 0, first: 0, last: 0, exitNs: 95), // the exit hook ran on a CPU that saw no traffic
        ];

        ProcessTotals p = ProcessTotals.Merge(key, cpus);

        Assert.Equal(42, p.Pid);
        Assert.Equal(777UL, p.StartNs);
        Assert.Equal(120UL, p.TxBytes);
        Assert.Equal(12UL, p.RxBytes);
        Assert.Equal(2UL, p.TxCalls);
        Assert.Equal(1UL, p.Connects);
        Assert.Equal(40UL, p.FirstNs);
        Assert.Equal(90UL, p.LastNs);
        Assert.Equal(95UL, p.ExitNs);
        Assert.True(p.Exited);
        Assert.Equal("curl", p.Comm); // written last (after exec)
        Assert.Equal(1000U, p.Uid);
        Assert.Equal(7, p.Ppid);
    }

    [Fact]
    public void Merge_WithoutFacts_HasEmptyName()
    {
        ProcessTotals p = ProcessTotals.Merge(new TopPkey { Tgid = 1 }, [Cpu(1, 0, 1, 1)]);
        Assert.Equal("", p.Comm);
        Assert.False(p.Exited);
    }

    private static TopCur Current(uint tgid, ulong start, ulong tx, ulong rx, ulong last, ulong seq = 2) => new()
    {
        Seq = seq,
        Key = new TopPkey { Tgid = tgid, StartNs = start },
        TxBytes = tx,
        RxBytes = rx,
        TxCalls = tx > 0 ? 1UL : 0,
        RxCalls = rx > 0 ? 1UL : 0,
        LastNs = last,
    };

    [Fact]
    public void AddCurrent_AddsEachCpusCountsToItsProcessOnly()
    {
        var rows = new List<ProcessTotals>
        {
            new() { Pid = 1, StartNs = 10, TxBytes = 100, RxBytes = 5, TxCalls = 2, RxCalls = 1, LastNs = 50 },
            new() { Pid = 1, StartNs = 11, TxBytes = 7 }, // the same pid, a later process
            new() { Pid = 2, StartNs = 20, RxBytes = 30, RxCalls = 3, LastNs = 90 },
        };
        TopCur[] cpus =
        [
            Current(1, 10, tx: 40, rx: 0, last: 70),
            Current(2, 20, tx: 0, rx: 8, last: 60),   // older than the row's last activity
            Current(3, 30, tx: 9, rx: 9, last: 99),   // no row: retired or evicted, left out
            default,                                  // a CPU that counted nothing yet
        ];

        ProcessTotals.AddCurrent(rows, 0, cpus);

        Assert.Equal((140UL, 5UL, 3UL, 1UL, 70UL), (rows[0].TxBytes, rows[0].RxBytes, rows[0].TxCalls, rows[0].RxCalls, rows[0].LastNs));
        Assert.Equal(7UL, rows[1].TxBytes);
        Assert.Equal((38UL, 4UL, 90UL), (rows[2].RxBytes, rows[2].RxCalls, rows[2].LastNs));
        Assert.Equal(3, rows.Count);
    }

    [Fact]
    public void AddCurrent_LeavesRowsBeforeStartAlone()
    {
        var rows = new List<ProcessTotals> { new() { Pid = 1, StartNs = 10 }, new() { Pid = 1, StartNs = 10 } };
        ProcessTotals.AddCurrent(rows, 1, [Current(1, 10, tx: 5, rx: 0, last: 1)]);
        Assert.Equal(0UL, rows[0].TxBytes);
        Assert.Equal(5UL, rows[1].TxBytes);
    }

    [Fact]
    public void AddCurrent_LeavesOutACpuCaughtChangingItsProcess()
    {
        var rows = new List<ProcessTotals> { new() { Pid = 1, StartNs = 10, TxBytes = 3 } };
        ProcessTotals.AddCurrent(rows, 0, [Current(1, 10, tx: 5, rx: 0, last: 1, seq: 7)]);
        Assert.Equal(3UL, rows[0].TxBytes);
    }

    [Theory]
    [InlineData(2, 2, true)]   // no change of process on the CPU
    [InlineData(2, 4, false)]  // changed between the reads: its counts may be in a row already
    [InlineData(3, 3, false)]  // changing while read
    public void Unchanged_OnlyWhenEveryCpusSequenceIsTheSameAndEven(ulong before, ulong after, bool unchanged)
    {
        TopCur[] a = [Current(1, 1, 1, 0, 1, seq: 2), Current(2, 2, 1, 0, 1, seq: before)];
        TopCur[] b = [Current(1, 1, 5, 0, 1, seq: 2), Current(2, 2, 1, 0, 1, seq: after)];
        Assert.Equal(unchanged, ProcessTotals.Unchanged(a, b));
    }

    [Fact]
    public void LiveCounts_TakeTheLargerOfRowAndSocket_Each()
    {
        // the row lags behind the socket's counts; a socket read before the row caught up at
        // CLOSE holds fewer than the row, never more bytes than were moved
        var row = new TopConn { TxBytes = 100, RxBytes = 900, TxCalls = 2, RxCalls = 9, LastNs = 50 };
        var live = new TopLive { Cookie = 7, TxBytes = 140, RxBytes = 800, TxCalls = 3, RxCalls = 8, LastNs = 60 };

        LiveCountsMerge.Apply(ref row, live);

        Assert.Equal((140UL, 900UL, 3UL, 9UL, 60UL), (row.TxBytes, row.RxBytes, row.TxCalls, row.RxCalls, row.LastNs));
    }

    [Fact]
    public unsafe void LiveCounts_ParseWholeRecordsByCookie_SkippingUnstartedOnes()
    {
        TopLive[] records =
        [
            new() { Cookie = 7, TxBytes = 1 },
            new() { Cookie = 0, TxBytes = 2 }, // created, not yet started by its first CPU
            new() { Cookie = 9, RxBytes = 3 },
        ];
        var into = new Dictionary<ulong, TopLive> { [5] = new() { Cookie = 5 } };

        LiveCountsMerge.Parse(System.Runtime.InteropServices.MemoryMarshal.AsBytes(records.AsSpan()), into);

        Assert.Equal([5UL, 7UL, 9UL], into.Keys.Order());
        Assert.Equal(1UL, into[7].TxBytes);
        Assert.Equal(3UL, into[9].RxBytes);
        Assert.Equal(56, sizeof(TopLive));
    }

    [Fact]
    public unsafe void ConnectionFrom_NormalisesV4MappedAddresses()
    {
        var c = new TopConn { OwnerTgid = 9, TxBytes = 3, Flags = (uint)(TopConnFlags.Active | TopConnFlags.Closed), CloseNs = 5 };
        c.Sk.Family = Sock.AF_INET6;
        c.Sk.Protocol = Sock.IPPROTO_TCP;
        c.Sk.Lport = 80;
        c.Sk.Rport = 5555;
        byte[] mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
        for (int i = 0; i < 16; i++)
        {
            c.Sk.Laddr[i] = mapped[i];
            c.Sk.Raddr[i] = mapped[i];
        }
        c.Comm[0] = (byte)'n';

        ConnectionTotals t = ConnectionTotals.From(c);

        Assert.Equal("127.0.0.1", t.LocalAddress!.ToString());
        Assert.Equal("127.0.0.1:80", Endpoints.Format(t.LocalAddress, t.LocalPort));
        Assert.True(t.Closed);
        Assert.True(t.IsTcp);
        Assert.Equal("n", t.OwnerComm);
        Assert.Equal(9, t.OwnerPid);
    }

    [Fact]
    public void Endpoints_FormatV6AndUnspecified()
    {
        Assert.Equal("[::1]:443", Endpoints.Format(System.Net.IPAddress.IPv6Loopback, 443));
        Assert.Equal("*:53", Endpoints.Format(System.Net.IPAddress.Any, 53));
        Assert.Equal("*", Endpoints.Format(System.Net.IPAddress.Any, 0));
        Assert.Equal("ESTABLISHED", Endpoints.TcpState(1));
        Assert.Equal("udp", Endpoints.Proto(Sock.AF_INET6, Sock.IPPROTO_UDP));
    }

    [Fact]
    public void Rates_AreGrowthOverTheInterval_NewRowsGrowFromZero()
    {
        TopSnapshot before = Snap(10 * Second, [ProcRow(1, "a", tx: 1000, rx: 0)], [Tcp(7, 1, "127.0.0.1", 1000, "127.0.0.1", 80, tx: 1000)]);
        TopSnapshot after = Snap(12 * Second,
            [ProcRow(1, "a", tx: 5000, rx: 300), ProcRow(2, "b", tx: 400)],
            [Tcp(7, 1, "127.0.0.1", 1000, "127.0.0.1", 80, tx: 5000, rx: 300), Tcp(8, 2, "127.0.0.1", 1001, "10.0.0.9", 53, tx: 400, start: 1000)]);

        TopFrame f = FrameBuilder.Build(before, after, new FakeFacts());

        Assert.Equal(2.0, f.IntervalSeconds, 9);
        ProcessRow a = f.Processes.Single(p => p.Pid == 1);
        Assert.Equal(2000.0, a.TxRate, 9);
        Assert.Equal(150.0, a.RxRate, 9);
        Assert.Equal(200.0, f.Processes.Single(p => p.Pid == 2).TxRate, 9);
        Assert.Equal(2000.0, f.Connections.Single(c => c.Totals.Cookie == 7).TxRate, 9);
        Assert.Equal((4000.0 + 400) / 2, f.Totals.TxRate, 9);
        Assert.Equal(5400UL, f.Totals.TxBytes);
        Assert.Equal("root", a.User);
        Assert.Equal("cmd 1", a.CommandLine);
        Assert.Equal(1, a.Sockets);
    }

    [Fact]
    public void Rates_NeverNegative_AndZeroWithoutInterval()
    {
        TopSnapshot before = Snap(10 * Second, [ProcRow(1, "a", tx: 9000)]);
        TopSnapshot after = Snap(11 * Second, [ProcRow(1, "a", tx: 100)]); // evicted and counted again

        Assert.Equal(0, FrameBuilder.Build(before, after, new FakeFacts()).Processes[0].TxRate);
        Assert.Equal(0, FrameBuilder.Build(after, after, new FakeFacts()).Processes[0].TxRate);
    }

    [Fact]
    public void Totals_IncludeForgottenRows_AndCountEvents()
    {
        var retired = new RetiredTotals().Add(ProcRow(5, "gone", tx: 50, rx: 60, connects: 2, fails: 1));
        TopSnapshot s = Snap(2 * Second, [ProcRow(1, "a", tx: 10, rx: 20, connects: 3, resets: 1, retrans: 4, exitNs: Second)], retired: retired);

        TopFrame f = FrameBuilder.Build(Snap(Second), s, new FakeFacts());

        Assert.Equal(60UL, f.Totals.TxBytes);
        Assert.Equal(80UL, f.Totals.RxBytes);
        Assert.Equal(5UL, f.Totals.Connects);
        Assert.Equal(1UL, f.Totals.ConnectFails);
        Assert.Equal(1UL, f.Totals.Resets);
        Assert.Equal(4UL, f.Totals.Retransmits);
        Assert.Equal(1, f.Totals.ExitedProcesses);
    }

    [Fact]
    public void Sockets_CountOpenConnections_UdpOnlyWhileTheOwnerRuns()
    {
        TopSnapshot s = Snap(5 * Second,
            [ProcRow(1, "a"), ProcRow(2, "b", exitNs: 4 * Second)],
            [
                Tcp(1, 1, "127.0.0.1", 1, "127.0.0.1", 2),
                Tcp(2, 1, "127.0.0.1", 3, "127.0.0.1", 4, closeNs: 3 * Second, state: 7),
                Udp(3, 1, 53),
                Udp(4, 2, 54),
            ]);

        TopFrame f = FrameBuilder.Build(Snap(Second), s, new FakeFacts());

        Assert.Equal(2, f.Processes.Single(p => p.Pid == 1).Sockets);
        Assert.Equal(0, f.Processes.Single(p => p.Pid == 2).Sockets);
        Assert.Equal(2, f.Totals.OpenConnections);
        Assert.Equal(4, f.Totals.Connections);
    }

    [Fact]
    public void Hosts_GroupByRemoteAddress()
    {
        TopSnapshot s = Snap(2 * Second, [],
        [
            Tcp(1, 10, "127.0.0.1", 1, "10.1.1.1", 80, tx: 5, rx: 7, comm: "curl"),
            Tcp(2, 11, "127.0.0.1", 2, "10.1.1.1", 443, tx: 1, rx: 1, comm: "wget"),
            Tcp(3, 10, "127.0.0.1", 3, "10.2.2.2", 80, tx: 100),
            Udp(4, 12, 5353, tx: 9),
        ]);

        TopFrame f = FrameBuilder.Build(Snap(Second), s, new FakeFacts());

        HostRow h = f.Hosts.Single(x => x.Address == "10.1.1.1");
        Assert.Equal(2, h.Connections);
        Assert.Equal(6UL, h.TxBytes);
        Assert.Equal(8UL, h.RxBytes);
        Assert.Equal([10, 11], h.Pids);
        Assert.Equal(9UL, f.Hosts.Single(x => x.Address == "*").TxBytes);
        Assert.Equal(3, f.Hosts.Count);
    }

    [Fact]
    public void Sampler_KeepsExitedProcesses_ThenForgetsThem_AndKeepsTheirTotals()
    {
        var src = new FakeSource();
        src.Processes.Add(ProcRow(1, "short", tx: 100, rx: 10, exitNs: 2 * Second));
        src.Processes.Add(ProcRow(2, "long", tx: 5));
        src.Connections.Add(Tcp(9, 1, "127.0.0.1", 1, "127.0.0.1", 2, closeNs: 2 * Second, state: 7));
        src.Connections.Add(Udp(10, 1, 99, lastNs: 2 * Second));
        var sampler = new TopSampler(src, TimeSpan.FromSeconds(10));

        src.Now = 5 * Second;
        TopSnapshot kept = sampler.Sample();
        Assert.Equal(2, kept.Processes.Count);
        Assert.Equal(2, kept.Connections.Count);
        Assert.Empty(src.ForgottenProcesses);

        src.Now = 13 * Second;
        TopSnapshot later = sampler.Sample();
        Assert.Equal([2], later.Processes.Select(p => p.Pid));
        Assert.Empty(later.Connections);
        Assert.Equal([new ProcessKey(1, 1000)], src.ForgottenProcesses);
        Assert.Equal([9UL, 10UL], src.ForgottenConnections.Order());
        Assert.Equal(1, later.Retired.Processes);
        Assert.Equal((105UL, 10UL), later.TotalBytes());
    }

    [Fact]
    public void Sampler_KeepsIdleUdpOfARunningOwner()
    {
        var src = new FakeSource();
        src.Processes.Add(ProcRow(3, "dns"));
        src.Connections.Add(Udp(11, 3, 53, lastNs: Second));
        var sampler = new TopSampler(src, TimeSpan.FromSeconds(1));
        src.Now = 100 * Second;

        Assert.Single(sampler.Sample().Connections);
    }

    [Fact]
    public void Sampler_ForgetsUdpPeers_WhenIdle_OrWithTheirSocket()
    {
        var src = new FakeSource();
        src.Processes.Add(ProcRow(3, "dns"));
        src.Processes.Add(ProcRow(4, "gone", exitNs: 2 * Second));
        src.Connections.Add(Udp(11, 3, 53, lastNs: 9 * Second));
        src.Connections.Add(Udp(12, 4, 5353, lastNs: 2 * Second));
        AddPeer(src, 11, "10.0.0.1", lastNs: 9 * Second); // active
        AddPeer(src, 11, "10.0.0.2", lastNs: 2 * Second); // idle
        AddPeer(src, 12, "10.0.0.3", lastNs: 9 * Second); // its socket goes with its exited owner
        var sampler = new TopSampler(src, TimeSpan.FromSeconds(5));
        src.Now = 10 * Second;

        TopSnapshot s = sampler.Sample();
        PeerTotals kept = Assert.Single(s.Peers);
        Assert.Equal("10.0.0.1", kept.Address.ToString());
        Assert.Equal(["10.0.0.2", "10.0.0.3"], src.ForgottenPeers.Select(p => p.Address.ToString()).Order());
    }

    private static void AddPeer(FakeSource src, ulong cookie, string addr, ulong lastNs) =>
        src.Peers.Add(new PeerTotals { Cookie = cookie, Address = System.Net.IPAddress.Parse(addr), Port = 53, FirstNs = Second, LastNs = lastNs });

    [Fact]
    public void ProcFacts_SameStart_ToleratesOneTick()
    {
        Assert.True(ProcFacts.SameStart(123, 123 * 10_000_000UL + 5));
        Assert.True(ProcFacts.SameStart(124, 123 * 10_000_000UL + 9_999_999));
        Assert.False(ProcFacts.SameStart(130, 123 * 10_000_000UL));
    }
}
