using Xunit;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Tests.Output;

public class JsonEventWriterTests
{
    private static readonly string[] RequiredKeys =
    [
        "ts", "ts_ns", "func", "phase", "pid", "tid", "ppid", "comm", "pcomm", "uid", "gid", "cpu",
        "cgroup_id", "netns", "fd", "family", "type", "proto", "laddr", "lport", "raddr", "rport",
        "req_bytes", "bytes", "ret", "error", "duration_ns", "cookie", "state",
    ];

    private static SyscallEvent ConnectExit()
    {
        var ev = TestEvents.Event(Func.Connect, Phase.Exit, ts: TestEvents.T0 + 498_000);
        ev.DurationNs = 197_000;
        TestEvents.Socket(ref ev, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 8193, state: 1);
        return ev;
    }

    private static JsonElement One(SyscallEvent ev, UnixPaths paths = default, bool hasPaths = false)
    {
        var text = TestEvents.Json(w => w.OnSyscall(in ev, in paths, hasPaths));
        var lines = TestEvents.Lines(text);
        Assert.Single(lines);
        Assert.EndsWith("\n", text);
        return JsonDocument.Parse(lines[0]).RootElement.Clone();
    }

    [Fact]
    public void Connect_exit_has_every_key_and_the_tuple()
    {
        var root = One(ConnectExit());
        foreach (var key in RequiredKeys)
            Assert.True(root.TryGetProperty(key, out _), $"missing key {key}");

        Assert.Equal("connect", root.GetProperty("func").GetString());
        Assert.Equal("exit", root.GetProperty("phase").GetString());
        Assert.Equal(18423, root.GetProperty("pid").GetInt32());
        Assert.Equal(18423, root.GetProperty("tid").GetInt32());
        Assert.Equal(18422, root.GetProperty("ppid").GetInt32());
        Assert.Equal("wget", root.GetProperty("comm").GetString());
        Assert.Equal("sudo", root.GetProperty("pcomm").GetString());
        Assert.Equal(0, root.GetProperty("uid").GetInt32());
        Assert.Equal(1, root.GetProperty("cpu").GetInt32());
        Assert.Equal(4242UL, root.GetProperty("cgroup_id").GetUInt64());
        Assert.Equal(4026531840UL, root.GetProperty("netns").GetUInt64());
        Assert.Equal(3, root.GetProperty("fd").GetInt32());
        Assert.Equal("inet", root.GetProperty("family").GetString());
        Assert.Equal("stream", root.GetProperty("type").GetString());
        Assert.Equal("tcp", root.GetProperty("proto").GetString());
        Assert.Equal("127.0.0.1", root.GetProperty("laddr").GetString());
        Assert.Equal(57032, root.GetProperty("lport").GetInt32());
        Assert.Equal("127.0.0.1", root.GetProperty("raddr").GetString());
        Assert.Equal(80, root.GetProperty("rport").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("req_bytes").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("bytes").ValueKind);
        Assert.Equal(0, root.GetProperty("ret").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
        Assert.Equal(197_000, root.GetProperty("duration_ns").GetInt64());
        Assert.Equal(8193UL, root.GetProperty("cookie").GetUInt64());
        Assert.Equal("ESTABLISHED", root.GetProperty("state").GetString());
        Assert.False(root.TryGetProperty("seq", out _));
        Assert.False(root.TryGetProperty("arg", out _));
        Assert.False(root.TryGetProperty("peer_from_args", out _));
    }

    [Fact]
    public void Ts_is_RFC_3339_with_nanoseconds_and_round_trips_to_ts_ns()
    {
        var root = One(ConnectExit());
        string ts = root.GetProperty("ts").GetString()!;
        long tsNs = root.GetProperty("ts_ns").GetInt64();
        Assert.Equal("2026-11-28T01:02:03.123954789Z", ts);
        Assert.Equal(TestEvents.WallT0 + 498_000, tsNs);

        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$", ts);
        var whole = DateTimeOffset.ParseExact(ts[..19] + "Z", "yyyy-MM-dd'T'HH:mm:ssK", CultureInfo.InvariantCulture);
        long parsed = whole.ToUnixTimeSeconds() * 1_000_000_000L + long.Parse(ts[20..29], CultureInfo.InvariantCulture);
        Assert.Equal(tsNs, parsed);
        // the framework agrees to its 100 ns resolution
        var framework = DateTimeOffset.Parse(ts[..27] + "Z", CultureInfo.InvariantCulture);
        Assert.Equal(tsNs / 100, (framework - DateTimeOffset.UnixEpoch).Ticks);
    }

    [Fact]
    public void Socket_enter_has_no_fd_and_names_the_arguments()
    {
        var ev = TestEvents.Event(Func.Socket, Phase.Enter, fd: -1);
        ev.Sk.Family = Sock.AF_INET;
        ev.Sk.Type = 1;
        ev.Arg = 1 | Names.SOCK_CLOEXEC;
        var root = One(ev);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("fd").ValueKind);
        Assert.Equal("socket", root.GetProperty("func").GetString());
        Assert.Equal("enter", root.GetProperty("phase").GetString());
        Assert.Equal("inet", root.GetProperty("family").GetString());
        Assert.Equal("stream", root.GetProperty("type").GetString());
        Assert.Equal("tcp", root.GetProperty("proto").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("laddr").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("lport").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("ret").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("duration_ns").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("cookie").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("state").ValueKind);
        Assert.Equal(1 | Names.SOCK_CLOEXEC, root.GetProperty("arg").GetInt64());
    }

    [Theory]
    [InlineData(-11, "EAGAIN")]
    [InlineData(-111, "ECONNREFUSED")]
    [InlineData(-115, "EINPROGRESS")]
    [InlineData(-200, "E200")]
    public void Errors_have_the_errno_name_and_a_negative_ret(long ret, string name)
    {
        var ev = TestEvents.Event(Func.Recvfrom, Phase.Exit, ret: ret);
        ev.ReqBytes = 65536;
        ev.DurationNs = 12_000;
        TestEvents.Socket(ref ev, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 1, state: 1);
        var root = One(ev);
        Assert.Equal(name, root.GetProperty("error").GetString());
        Assert.Equal(ret, root.GetProperty("ret").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("bytes").ValueKind);
        Assert.Equal(65536, root.GetProperty("req_bytes").GetInt64());
    }

    [Fact]
    public void A_large_negative_return_is_a_number_not_an_error()
    {
        var ev = TestEvents.Event(Func.Close, Phase.Exit, ret: -5000);
        var root = One(ev);
        Assert.Equal(-5000, root.GetProperty("ret").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
    }

    [Fact]
    public void Data_calls_carry_requested_and_moved_bytes_and_the_sequence_number()
    {
        var ev = TestEvents.Event(Func.Write, Phase.Exit, ret: 146);
        ev.ReqBytes = 146;
        TestEvents.Socket(ref ev, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 9, state: 1);
        ev.Flags |= (uint)EventFlags.Seq;
        ev.Sk.Seq = 3_000_000_001;
        var root = One(ev);
        Assert.Equal(146, root.GetProperty("req_bytes").GetInt64());
        Assert.Equal(146, root.GetProperty("bytes").GetInt64());
        Assert.Equal(3_000_000_001L, root.GetProperty("seq").GetInt64());

        var enter = TestEvents.Event(Func.Write, Phase.Enter);
        enter.ReqBytes = 146;
        root = One(enter);
        Assert.Equal(146, root.GetProperty("req_bytes").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("bytes").ValueKind);
    }

    [Fact]
    public void Multi_message_calls_report_the_summed_bytes()
    {
        var ev = TestEvents.Event(Func.Sendmmsg, Phase.Exit, ret: 3);
        ev.ReqBytes = 900; // the kernel side's sum of msg_len
        ev.Arg = 4;
        var root = One(ev);
        Assert.Equal(900, root.GetProperty("bytes").GetInt64());
        Assert.Equal(3, root.GetProperty("ret").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("req_bytes").ValueKind);
    }

    [Fact]
    public void Udp_over_IPv6_with_the_peer_from_the_arguments()
    {
        var ev = TestEvents.Event(Func.Sendto, Phase.Exit, ret: 30);
        ev.ReqBytes = 30;
        TestEvents.Socket(ref ev, Sock.AF_INET6, 2, 17, "::1", 41000, "::1", 53, cookie: 77, state: 7);
        ev.Flags |= (uint)EventFlags.PeerFromArgs;
        var root = One(ev);
        Assert.Equal("inet6", root.GetProperty("family").GetString());
        Assert.Equal("dgram", root.GetProperty("type").GetString());
        Assert.Equal("udp", root.GetProperty("proto").GetString());
        Assert.Equal("::1", root.GetProperty("laddr").GetString());
        Assert.Equal("::1", root.GetProperty("raddr").GetString());
        Assert.Equal(53, root.GetProperty("rport").GetInt32());
        Assert.True(root.GetProperty("peer_from_args").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("state").ValueKind); // UDP: no TCP state
    }

    [Fact]
    public void IPv4_on_an_IPv6_socket_is_shown_as_IPv4()
    {
        var ev = TestEvents.Event(Func.Accept4, Phase.Exit, ret: 5);
        TestEvents.Socket(ref ev, Sock.AF_INET6, 1, 6, "::ffff:127.0.0.1", 80, "::ffff:127.0.0.1", 40000, state: 1);
        var root = One(ev);
        Assert.Equal("127.0.0.1", root.GetProperty("laddr").GetString());
        Assert.Equal("127.0.0.1", root.GetProperty("raddr").GetString());
    }

    [Fact]
    public void Unix_sockets_have_paths_and_no_ports()
    {
        var ev = TestEvents.Event(Func.Connect, Phase.Exit);
        TestEvents.Socket(ref ev, Sock.AF_UNIX, 1, 0);
        var root = One(ev, TestEvents.Paths(null, "/run/app.sock"), hasPaths: true);
        Assert.Equal("unix", root.GetProperty("family").GetString());
        Assert.Equal("stream", root.GetProperty("proto").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("laddr").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("lport").ValueKind);
        Assert.Equal("/run/app.sock", root.GetProperty("raddr").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("rport").ValueKind);

        root = One(ev, TestEvents.Paths("\0x", "\0y"), hasPaths: true);
        Assert.Equal("@x", root.GetProperty("laddr").GetString());
        Assert.Equal("@y", root.GetProperty("raddr").GetString());

        // Paths are bytes chosen by programs: quotes, backslashes and newlines must be escaped.
        root = One(ev, TestEvents.Paths("/tmp/a\"b\\c\nd\te", "/run/é.sock"), hasPaths: true);
        Assert.Equal("/tmp/a\"b\\c\nd\te", root.GetProperty("laddr").GetString());
        Assert.Equal("/run/é.sock", root.GetProperty("raddr").GetString());
    }

    [Fact]
    public void Lost_records_have_their_own_shape()
    {
        var lost = TestEvents.Lost(TestEvents.T0 + 1_000, 1, 42);
        var text = TestEvents.Json(w => w.OnLost(in lost));
        var root = JsonDocument.Parse(TestEvents.Lines(text).Single()).RootElement;
        Assert.Equal(["ts", "ts_ns", "func", "cpu", "count"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("lost", root.GetProperty("func").GetString());
        Assert.Equal(1, root.GetProperty("cpu").GetInt32());
        Assert.Equal(42, root.GetProperty("count").GetInt64());
        Assert.Equal(TestEvents.WallT0 + 1_000, root.GetProperty("ts_ns").GetInt64());
        Assert.Equal("2026-11-28T01:02:03.123457789Z", root.GetProperty("ts").GetString());
    }

    [Fact]
    public void Every_line_parses_and_broken_names_stay_valid_JSON()
    {
        var ev = ConnectExit();
        TestEvents.SetRaw(ref ev, [(byte)'x', (byte)'"', (byte)'\\', 0x01, 0xc3]);
        var text = TestEvents.Json(w =>
        {
            var paths = default(UnixPaths);
            for (int i = 0; i < 3000; i++)
            {
                ev.TsNs++;
                w.OnSyscall(in ev, in paths, false);
                if (i % 1000 == 0)
                {
                    var lost = TestEvents.Lost(ev.TsNs, 0, 1);
                    w.OnLost(in lost);
                }
            }
        });
        var lines = TestEvents.Lines(text);
        Assert.Equal(3003, lines.Length);
        foreach (var line in lines)
            using (JsonDocument.Parse(line)) { }
        var root = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("x\"\\\u0001\uFFFD", root.GetProperty("comm").GetString());
    }

    [Fact]
    public void Output_is_buffered_until_Flush_or_64_KiB()
    {
        var ms = new MemoryStream();
        using var w = new JsonEventWriter(ms, TestEvents.Clock());
        var ev = ConnectExit();
        var paths = default(UnixPaths);
        w.OnSyscall(in ev, in paths, false);
        Assert.Equal(0, ms.Length);
        w.Flush();
        long one = ms.Length;
        Assert.True(one > 0);
        for (int i = 0; i < 65536 / (int)one + 1; i++)
            w.OnSyscall(in ev, in paths, false);
        Assert.True(ms.Length > one, "buffer goes out once it passes 64 KiB");
    }

    [Fact]
    public unsafe void Threads_taking_turns_each_get_their_own_facts()
    {
        // A client, a server and a third thread take turns; the third is renamed, moves to
        // another parent and gets odd names; now and then threads whose tids share low bits with
        // the client's come in between. Every line must be what a writer that never saw the
        // events before writes for that event alone.
        var client = TestEvents.Event(Func.Write, Phase.Exit, ret: 40, comm: "wrk", pcomm: "bash");
        client.Pid = client.Tid = 2300;
        client.Ppid = 1990;
        client.Uid = client.Gid = 1000;
        client.ReqBytes = 40;
        TestEvents.Socket(ref client, Sock.AF_INET, 1, 6, "127.0.0.1", 41000, "127.0.0.1", 8080, cookie: 9000, state: 1);
        var server = TestEvents.Event(Func.Recvfrom, Phase.Exit, ret: 40, comm: "nginx", pcomm: "nginx");
        server.Pid = server.Tid = 2201;
        server.Ppid = 2200;
        server.Uid = server.Gid = 33;
        server.CgroupId = 5151;
        server.ReqBytes = 1024;
        TestEvents.Socket(ref server, Sock.AF_INET, 1, 6, "127.0.0.1", 8080, "127.0.0.1", 41000, cookie: 9001, state: 1);
        var worker = TestEvents.Event(Func.Read, Phase.Enter, comm: "worker");
        worker.Pid = 3000;
        worker.Tid = 3002;
        var sameBits = TestEvents.Event(Func.Sendto, Phase.Enter, comm: "wrk");
        sameBits.Pid = 2300;
        sameBits.Tid = 2304;
        var sameBitsToo = TestEvents.Event(Func.Close, Phase.Exit, comm: "wrk");
        sameBitsToo.Pid = 2300;
        sameBitsToo.Tid = 2308;

        var events = new List<SyscallEvent>();
        for (int i = 0; i < 90; i++)
        {
            var ev = (i % 3) switch
            {
                0 => client,
                1 => i % 20 == 19 ? sameBitsToo : server,
                _ => i % 12 == 11 ? sameBits : worker,
            };
            ev.TsNs += (ulong)i * 1_000;
            ev.Cpu = (uint)(i % 4);
            if (ev.Tid == client.Tid && i >= 30)
                ev.Uid = 0;
            if (ev.Tid == server.Tid && i >= 22)
                ev.CgroupId = 7777;
            if (ev.Tid == server.Tid && i >= 43)
                ev.Netns = 4026532000;
            if (ev.Tid == server.Tid && i >= 61)
                ev.Gid = 0;
            if (ev.Tid == worker.Tid)
            {
                if (i >= 15)
                    TestEvents.SetText(MemoryMarshal.CreateSpan(ref ev.Comm[0], 16), i >= 48 ? "worker\"2" : "worker-1");
                if (i >= 27)
                    ev.Ppid = 1; // reparented to init
                if (i >= 39)
                    TestEvents.SetText(MemoryMarshal.CreateSpan(ref ev.Pcomm[0], 16), "systemd");
                if (i >= 57)
                    ev.Comm[6] = 0xff; // not UTF-8: sanitised
                if (i >= 70)
                    ev.Pid = 3001;
            }
            events.Add(ev);
        }

        var paths = default(UnixPaths);
        var lines = TestEvents.Lines(TestEvents.Json(w =>
        {
            foreach (var ev in events)
                w.OnSyscall(in ev, in paths, false);
        }));
        Assert.Equal(events.Count, lines.Length);
        for (int i = 0; i < events.Count; i++)
        {
            var ev = events[i];
            var alone = TestEvents.Lines(TestEvents.Json(w => w.OnSyscall(in ev, in paths, false))).Single();
            Assert.Equal(alone, lines[i]);
        }
        Assert.Contains("\"comm\":\"worker\\\"2\"", lines[50]);
        Assert.Contains("\"comm\":\"worker\uFFFD2\"", lines[62]);
        Assert.Contains("\"ppid\":1,", lines[29]);
        Assert.Contains("\"pcomm\":\"systemd\"", lines[41]);
        Assert.Contains("\"uid\":0,", lines[30]);
        Assert.Contains("\"cgroup_id\":7777,", lines[22]);
    }

    [Fact]
    public void Writing_allocates_nothing_per_event()
    {
        using var w = new JsonEventWriter(Stream.Null, TestEvents.Clock());
        var ev = ConnectExit();
        var unix = TestEvents.Event(Func.Connect, Phase.Exit);
        TestEvents.Socket(ref unix, Sock.AF_UNIX, 1, 0);
        var paths = TestEvents.Paths("\0abstract", "/run/app.sock");
        var lost = TestEvents.Lost(TestEvents.T0, 0, 3);
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                w.OnSyscall(in ev, in paths, false);
                w.OnSyscall(in unix, in paths, true);
                w.OnLost(in lost);
            }
            w.Flush();
        }
        Run(2000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(20000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
