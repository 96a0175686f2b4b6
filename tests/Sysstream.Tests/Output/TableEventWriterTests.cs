using Xunit;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Tests.Output;

public class TableEventWriterTests
{
    // Column starts of the header.
    private const int Func = 10, Pid = 26, Comm = 40, Cpu = 89, Fd = 94, Len = 98, Notes = 105;

    private static string Row(string time, string func, string fd, string len, string notes,
        string comm = "wget", string cpu = "1") =>
        (time.PadRight(10) + func.PadRight(16) + "18423".PadRight(7) + "18423".PadRight(7) + comm.PadRight(16)
         + "18422".PadRight(7) + "sudo".PadRight(16) + "0".PadRight(5) + "0".PadRight(5) + cpu.PadRight(5)
         + fd.PadRight(4) + len.PadRight(7) + notes).TrimEnd();

    private static string[] Write(params (SyscallEvent Ev, UnixPaths Paths, bool HasPaths)[] events) =>
        TestEvents.Lines(TestEvents.Table(w =>
        {
            foreach (var (ev, paths, hasPaths) in events)
                w.OnSyscall(in ev, in paths, hasPaths);
        }));

    private static (SyscallEvent, UnixPaths, bool) E(SyscallEvent ev) => (ev, default, false);

    [Fact]
    public void Header_has_the_columns_in_order()
    {
        Assert.StartsWith("TIME(s)   FUNC            PID    TID    COMM", TableEventWriter.Header);
        Assert.Equal(["TIME(s)", "FUNC", "PID", "TID", "COMM", "PPID", "PCOMM", "UID", "GID", "CPU", "FD", "LEN", "NOTES"],
            TableEventWriter.Header.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(Func, TableEventWriter.Header.IndexOf("FUNC", StringComparison.Ordinal));
        Assert.Equal(Pid, TableEventWriter.Header.IndexOf("PID", StringComparison.Ordinal));
        Assert.Equal(Comm, TableEventWriter.Header.IndexOf("COMM", StringComparison.Ordinal));
        Assert.Equal(Cpu, TableEventWriter.Header.IndexOf("CPU", StringComparison.Ordinal));
        Assert.Equal(Fd, TableEventWriter.Header.IndexOf("FD", StringComparison.Ordinal));
        Assert.Equal(Len, TableEventWriter.Header.IndexOf("LEN", StringComparison.Ordinal));
        Assert.Equal(Notes, TableEventWriter.Header.IndexOf("NOTES", StringComparison.Ordinal));

        var text = TestEvents.Table(_ => { }, header: true);
        Assert.Equal(TableEventWriter.Header + "\n", text);
    }

    [Fact]
    public void The_wget_sample()
    {
        var socket = TestEvents.Event(Events.Func.Socket, Phase.Enter, ts: TestEvents.T0, fd: -1);
        socket.Sk.Family = Sock.AF_INET;
        socket.Sk.Type = 1;
        socket.Arg = 1;

        var socketRet = TestEvents.Event(Events.Func.Socket, Phase.Exit, ts: TestEvents.T0 + 12_000, ret: 3);
        TestEvents.Socket(ref socketRet, Sock.AF_INET, 1, 6, state: 7);

        var connect = TestEvents.Event(Events.Func.Connect, Phase.Enter, ts: TestEvents.T0 + 301_000);
        TestEvents.Socket(ref connect, Sock.AF_INET, 1, 6, raddr: "127.0.0.1", rport: 80, state: 7);
        connect.Flags |= (uint)EventFlags.PeerFromArgs;

        var connectRet = TestEvents.Event(Events.Func.Connect, Phase.Exit, ts: TestEvents.T0 + 498_000);
        TestEvents.Socket(ref connectRet, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 5, state: 1);

        var writeRet = TestEvents.Event(Events.Func.Write, Phase.Exit, ts: TestEvents.T0 + 702_000, ret: 146);
        writeRet.ReqBytes = 146;
        TestEvents.Socket(ref writeRet, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 5, state: 1);

        var recvRet = TestEvents.Event(Events.Func.Recvfrom, Phase.Exit, ts: TestEvents.T0 + 2_398_500, ret: -11);
        recvRet.ReqBytes = 65536;
        recvRet.DurationNs = 12_400;
        recvRet.Cpu = 0;
        TestEvents.Socket(ref recvRet, Sock.AF_INET, 1, 6, "127.0.0.1", 57032, "127.0.0.1", 80, cookie: 5, state: 1);

        var lines = Write(E(socket), E(socketRet), E(connect), E(connectRet), E(writeRet), E(recvRet));
        Assert.Equal(
        [
            Row("0.000000", "socket", "", "", "AF_INET SOCK_STREAM"),
            Row("0.000012", "socket_RETURN", "3", "", ""),
            Row("0.000301", "connect", "3", "", "-> 127.0.0.1:80"),
            Row("0.000498", "connect_RETURN", "3", "", "127.0.0.1:57032 -> 127.0.0.1:80"),
            Row("0.000702", "write_RETURN", "3", "146", "sent 146 bytes"),
            Row("0.002398", "recvfrom_RETURN", "3", "-1", "EAGAIN (waited 12us)", cpu: "0"),
        ], lines);
        Assert.Equal(
            "0.000498  connect_RETURN  18423  18423  wget            18422  sudo            0    0    1    3          127.0.0.1:57032 -> 127.0.0.1:80",
            lines[3]);
    }

    [Fact]
    public void Failures_show_the_errno_name_and_the_wait()
    {
        var refused = TestEvents.Event(Events.Func.Connect, Phase.Exit, ret: -111);
        refused.DurationNs = 3_250_000;
        TestEvents.Socket(ref refused, Sock.AF_INET, 1, 6, "127.0.0.1", 41000, "127.0.0.1", 81, state: 7);
        refused.Flags |= (uint)EventFlags.PeerFromArgs;
        var inprogress = TestEvents.Event(Events.Func.Connect, Phase.Exit, ret: -115);
        inprogress.DurationNs = 800;
        var unknown = TestEvents.Event(Events.Func.Close, Phase.Exit, ret: -300);
        unknown.DurationNs = 2_000;

        var lines = Write(E(refused), E(inprogress), E(unknown));
        Assert.Equal("-1", lines[0][Len..Notes].Trim());
        Assert.Equal("ECONNREFUSED (waited 3.2ms) -> 127.0.0.1:81", lines[0][Notes..]);
        Assert.Equal("EINPROGRESS (waited 800ns)", lines[1][Notes..]);
        Assert.Equal("E300 (waited 2us)", lines[2][Notes..]);
        Assert.DoesNotContain("18446744073709", string.Join('\n', lines));
    }

    [Fact]
    public void IPv6_endpoints_are_in_brackets_and_v4_mapped_ones_are_IPv4()
    {
        var sendto = TestEvents.Event(Events.Func.Sendto, Phase.Exit, ret: 30);
        sendto.ReqBytes = 30;
        TestEvents.Socket(ref sendto, Sock.AF_INET6, 2, 17, "::1", 41000, "::1", 53, state: 7);
        sendto.Flags |= (uint)EventFlags.PeerFromArgs;
        var sendtoEnter = TestEvents.Event(Events.Func.Sendto, Phase.Enter);
        sendtoEnter.ReqBytes = 30;
        TestEvents.Socket(ref sendtoEnter, Sock.AF_INET6, 2, 17, raddr: "::1", rport: 53, state: 7);
        sendtoEnter.Flags |= (uint)EventFlags.PeerFromArgs;
        var recv = TestEvents.Event(Events.Func.Recvfrom, Phase.Exit, ret: 1);
        TestEvents.Socket(ref recv, Sock.AF_INET6, 2, 17, "::", 53, "::ffff:10.0.0.2", 41000, state: 7);
        recv.Flags |= (uint)EventFlags.PeerFromArgs;
        var accept = TestEvents.Event(Events.Func.Accept4, Phase.Exit, ret: 5);
        TestEvents.Socket(ref accept, Sock.AF_INET6, 1, 6, "::ffff:127.0.0.1", 80, "::ffff:127.0.0.1", 57032, state: 1);

        var lines = Write(E(sendto), E(sendtoEnter), E(recv), E(accept));
        Assert.Equal("30", lines[0][Len..Notes].Trim());
        Assert.Equal("sent 30 bytes to [::1]:53", lines[0][Notes..]);
        Assert.Equal("30", lines[1][Len..Notes].Trim());
        Assert.Equal("-> [::1]:53", lines[1][Notes..]);
        Assert.Equal("received 1 byte from 10.0.0.2:41000", lines[2][Notes..]);
        Assert.Equal("new fd 5 127.0.0.1:80 -> 127.0.0.1:57032", lines[3][Notes..]);
    }

    [Fact]
    public void Unix_paths_and_abstract_names()
    {
        var connect = TestEvents.Event(Events.Func.Connect, Phase.Enter);
        TestEvents.Socket(ref connect, Sock.AF_UNIX, 1, 0);
        var bind = TestEvents.Event(Events.Func.Bind, Phase.Exit);
        TestEvents.Socket(ref bind, Sock.AF_UNIX, 2, 0);
        var close = TestEvents.Event(Events.Func.Close, Phase.Enter);
        TestEvents.Socket(ref close, Sock.AF_UNIX, 1, 0);

        var lines = Write(
            (connect, TestEvents.Paths(null, "/run/app.sock"), true),
            (bind, TestEvents.Paths("\0x", null), true),
            (close, TestEvents.Paths("/tmp/s", "\0peer"), true),
            (close, default, false));
        Assert.Equal("-> /run/app.sock", lines[0][Notes..]);
        Assert.Equal("@x", lines[1][Notes..]);
        Assert.Equal("/tmp/s -> @peer", lines[2][Notes..]);
        Assert.Equal(Fd + 1, lines[3].Length); // unnamed: no notes, line ends after FD
    }

    [Fact]
    public void Other_calls_have_notes_of_their_own()
    {
        var socketpair = TestEvents.Event(Events.Func.Socketpair, Phase.Enter, fd: -1);
        socketpair.Sk.Family = Sock.AF_UNIX;
        socketpair.Sk.Type = 1;
        socketpair.Arg = 1 | Names.SOCK_NONBLOCK | Names.SOCK_CLOEXEC;
        var udpSocket = TestEvents.Event(Events.Func.Socket, Phase.Enter, fd: -1);
        udpSocket.Sk.Family = Sock.AF_INET6;
        udpSocket.Sk.Type = 2;
        udpSocket.Sk.Protocol = 17;
        udpSocket.Arg = 2;
        var socketpairRet = TestEvents.Event(Events.Func.Socketpair, Phase.Exit, fd: 3);
        socketpairRet.Arg = 4;
        var listen = TestEvents.Event(Events.Func.Listen, Phase.Enter);
        TestEvents.Socket(ref listen, Sock.AF_INET, 1, 6, "0.0.0.0", 8080, state: 7);
        listen.Arg = 511;
        var shutdown = TestEvents.Event(Events.Func.Shutdown, Phase.Enter);
        shutdown.Arg = 1;
        TestEvents.Socket(ref shutdown, Sock.AF_INET, 1, 6, "127.0.0.1", 1, "127.0.0.1", 2, state: 1);
        var recvmmsg = TestEvents.Event(Events.Func.Recvmmsg, Phase.Exit, ret: 2);
        recvmmsg.ReqBytes = 1200;
        var read0 = TestEvents.Event(Events.Func.Read, Phase.Exit, ret: 0);
        read0.ReqBytes = 4096;
        var readEnter = TestEvents.Event(Events.Func.Read, Phase.Enter, fd: 12345);
        readEnter.ReqBytes = 4096;

        var lines = Write(E(socketpair), E(udpSocket), E(socketpairRet), E(listen), E(shutdown), E(recvmmsg),
            E(read0), E(readEnter));
        Assert.Equal("AF_UNIX SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC", lines[0][Notes..]);
        Assert.Equal("AF_INET6 SOCK_DGRAM IPPROTO_UDP", lines[1][Notes..]);
        Assert.Equal("peer fd 4", lines[2][Notes..]);
        Assert.Equal("0.0.0.0:8080 backlog 511", lines[3][Notes..]);
        Assert.Equal("SHUT_WR 127.0.0.1:1 -> 127.0.0.1:2", lines[4][Notes..]);
        Assert.Equal("1200", lines[5][Len..Notes].Trim());
        Assert.Equal("received 1200 bytes in 2 messages", lines[5][Notes..]);
        Assert.Equal("0", lines[6][Len..Notes].Trim());
        Assert.Equal("received 0 bytes", lines[6][Notes..]);
        // a value wider than its column pushes the rest right by one gap
        Assert.Contains(" 12345 4096", lines[7]);
    }

    [Fact]
    public void Lost_records_are_a_line_of_their_own()
    {
        var first = TestEvents.Event(Events.Func.Close, Phase.Enter, ts: TestEvents.T0);
        var lost = TestEvents.Lost(TestEvents.T0 + 1_500_000, 1, 7);
        var lines = TestEvents.Lines(TestEvents.Table(w =>
        {
            var paths = default(UnixPaths);
            w.OnSyscall(in first, in paths, false);
            w.OnLost(in lost);
        }));
        Assert.Equal("0.001500  LOST" + new string(' ', Cpu - 14) + "1    " + new string(' ', Notes - Fd) + "7 events lost on CPU 1",
            lines[1]);
    }

    [Fact]
    public void Long_and_odd_names_stay_on_one_line()
    {
        var ev = TestEvents.Event(Events.Func.Close, Phase.Enter, comm: "a-fifteen-chars", pcomm: "x");
        TestEvents.SetRaw(ref ev, [(byte)'b', (byte)'a', (byte)'d', (byte)'\n', 0xc3, (byte)'\t']);
        var ok = TestEvents.Event(Events.Func.Close, Phase.Enter, comm: "a-fifteen-chars");
        var lines = Write(E(ev), E(ok));
        Assert.Equal(2, lines.Length);
        Assert.Equal("bad???", lines[0][Comm..].Split(' ')[0]);
        Assert.Equal("a-fifteen-chars", lines[1][Comm..].Split(' ')[0]);
        Assert.Equal(' ', lines[1][Comm + 15]);
    }

    [Fact]
    public void Writing_allocates_nothing_per_event()
    {
        var w = new TableEventWriter(Stream.Null, TestEvents.Clock());
        var ev = TestEvents.Event(Events.Func.Connect, Phase.Exit, ret: -111);
        TestEvents.Socket(ref ev, Sock.AF_INET6, 1, 6, "2001:db8::1", 41000, "2001:db8::2", 443, state: 7);
        var data = TestEvents.Event(Events.Func.Recvfrom, Phase.Exit, ret: 512);
        TestEvents.Socket(ref data, Sock.AF_INET, 2, 17, "127.0.0.1", 5353, "127.0.0.1", 53, state: 7);
        data.Flags |= (uint)EventFlags.PeerFromArgs;
        var unix = TestEvents.Event(Events.Func.Close, Phase.Enter);
        TestEvents.Socket(ref unix, Sock.AF_UNIX, 1, 0);
        var paths = TestEvents.Paths("\0abstract", "/run/app.sock");
        var lost = TestEvents.Lost(TestEvents.T0, 0, 3);
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                w.OnSyscall(in ev, in paths, false);
                w.OnSyscall(in data, in paths, false);
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
