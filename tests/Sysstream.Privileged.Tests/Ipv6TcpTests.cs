using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Connected IPv6 sockets: both addresses are read from the kernel socket (not from a call's
/// sockaddr), in full; an IPv6 socket talking IPv4 shows plain IPv4 addresses.
/// </summary>
public sealed class Ipv6TcpTests(ITestOutputHelper log)
{
    private const int Bytes6 = 4321;
    private const int Bytes4 = 1234;

    private const string Script = """
        out, n6, n4 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        def read_all(s, n):
            got = 0
            while got < n:
                got += len(s.recv(n - got))
        srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        srv.bind(("::1", 0))
        srv.listen(4)
        cli = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        cli.connect(srv.getsockname()[:2])
        con, _ = srv.accept()
        cli.sendall(b"6" * n6)
        read_all(con, n6)
        srv4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv4.bind(("127.0.0.1", 0))
        srv4.listen(4)
        dual = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        dual.connect(("::ffff:127.0.0.1", srv4.getsockname()[1]))
        con4, _ = srv4.accept()
        dual.sendall(b"4" * n4)
        read_all(con4, n4)
        report(out, server_port=srv.getsockname()[1], client_port=cli.getsockname()[1],
               client_fd=cli.fileno(), conn_fd=con.fileno(), listen_fd=srv.fileno(),
               server4_port=srv4.getsockname()[1], dual_port=dual.getsockname()[1], dual_fd=dual.fileno())
        """;

    [PrivilegedFact]
    public async Task Tcp_over_ipv6_and_v4_mapped_show_full_addresses()
    {
        using var tmp = new TempDir("tcp6");
        string report = tmp.File("report.json");
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["trace", "-o", "json", "--proto", "tcp", "--", .. Python.Command(Script, report, $"{Bytes6}", $"{Bytes4}")]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code (the workload's)\n{r.Describe()}");
        JsonElement f = Python.ReadReport(report);
        var mine = r.OfPid(f.Int("pid")).ToList();
        int sport = f.Int("server_port"), cport = f.Int("client_port");

        TraceEvent connect = Expect.Single(mine.Where(e => e.Is("connect", "exit") && e.Fd == f.Int("client_fd")), "IPv6 connect exit", mine, r);
        CheckTuple(connect, "inet6", "::1", cport, "::1", sport);
        Expect.Equal<long?>(0, connect.Ret, "connect ret", connect);

        TraceEvent accept = Expect.Single(mine.Where(e => e.Func is "accept4" or "accept" && e.IsExit && e.Fd == f.Int("listen_fd")),
            "IPv6 accept exit", mine, r);
        Expect.Equal<long?>(f.Int("conn_fd"), accept.Ret, "accept ret (the new fd)", accept);
        CheckTuple(accept, "inet6", "::1", sport, "::1", cport);

        TraceEvent send = Expect.Single(mine.Where(e => e.Is("sendto", "exit") && e.Fd == f.Int("client_fd")), "IPv6 sendto exit", mine, r);
        CheckTuple(send, "inet6", "::1", cport, "::1", sport);
        Expect.Equal<long?>(Bytes6, send.Bytes, "sendto bytes", send);
        var received = mine.Where(e => e.Is("recvfrom", "exit") && e.Fd == f.Int("conn_fd")).ToList();
        Expect.All(received, e => e.LocalIs("::1", sport) && e.RemoteIs("::1", cport), "every server recvfrom shows [::1]:server <- [::1]:client");
        Expect.Equal<long>(Bytes6, received.Sum(e => e.Bytes ?? 0), "bytes the IPv6 server received");

        // An AF_INET6 socket connected to ::ffff:127.0.0.1 prints IPv4.
        int s4 = f.Int("server4_port"), dport = f.Int("dual_port");
        TraceEvent dualEnter = Expect.Single(mine.Where(e => e.Is("connect", "enter") && e.Fd == f.Int("dual_fd")), "dual-stack connect enter", mine, r);
        Expect.Equal("127.0.0.1", dualEnter.Raddr, "dual-stack connect enter raddr (::ffff:127.0.0.1 normalised)", dualEnter);
        Expect.Equal<long?>(s4, dualEnter.Rport, "dual-stack connect enter rport", dualEnter);
        TraceEvent dual = Expect.Single(mine.Where(e => e.Is("connect", "exit") && e.Fd == f.Int("dual_fd")), "dual-stack connect exit", mine, r);
        CheckTuple(dual, "inet6", "127.0.0.1", dport, "127.0.0.1", s4);
        TraceEvent dualSend = Expect.Single(mine.Where(e => e.Is("sendto", "exit") && e.Fd == f.Int("dual_fd")), "dual-stack sendto exit", mine, r);
        CheckTuple(dualSend, "inet6", "127.0.0.1", dport, "127.0.0.1", s4);
        Expect.Equal<long?>(Bytes4, dualSend.Bytes, "dual-stack sendto bytes", dualSend);
    }

    private static void CheckTuple(TraceEvent e, string family, string laddr, int lport, string raddr, int rport)
    {
        Expect.Equal(family, e.Family, $"{e.Func} family", e);
        Expect.Equal("tcp", e.Proto, $"{e.Func} proto", e);
        Expect.Equal(laddr, e.Laddr, $"{e.Func} {e.Phase} laddr", e);
        Expect.Equal<long?>(lport, e.Lport, $"{e.Func} {e.Phase} lport", e);
        Expect.Equal(raddr, e.Raddr, $"{e.Func} {e.Phase} raddr", e);
        Expect.Equal<long?>(rport, e.Rport, $"{e.Func} {e.Phase} rport", e);
    }
}
