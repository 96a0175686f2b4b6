using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;
using static Sysstream.Privileged.Tests.Infrastructure.TraceEventQueries;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Unconnected UDP over IPv6 loopback: the socket has no peer, so the peer must come from the
/// call's sockaddr (sendto/sendmsg at entry, recvfrom/recvmsg at exit). Addresses, ports and sizes exact.
/// </summary>
public sealed class UdpIpv6Tests(ITestOutputHelper log)
{
    private const int SendtoBytes = 1234;
    private const int SendmsgBytes = 777;
    private const int RecvBuffer = 65536;

    // Two unconnected sockets bound to [::1]:0; sendto/recvfrom, then sendmsg/recvmsg.
    private const string Script = """
        out, n, m, bufsize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("::1", 0))
        tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        tx.bind(("::1", 0))
        p, q = rx.getsockname()[1], tx.getsockname()[1]
        assert tx.sendto(b"u" * n, ("::1", p)) == n
        data, peer = rx.recvfrom(bufsize)
        assert len(data) == n and peer[1] == q, (len(data), peer)
        assert tx.sendmsg([b"v" * m], [], 0, ("::1", p)) == m
        data, anc, flags, peer = rx.recvmsg(bufsize)
        assert len(data) == m and peer[1] == q, (len(data), peer)
        report(out, rx_port=p, tx_port=q, rx_fd=rx.fileno(), tx_fd=tx.fileno())
        """;

    [PrivilegedFact]
    public async Task Unconnected_udp6_sendto_and_recvfrom_have_exact_peers_and_sizes()
    {
        using var tmp = new TempDir("udp6");
        string report = tmp.File("report.json");
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["trace", "-o", "json", "--family", "6", "--proto", "udp", "--",
             .. Python.Command(Script, report, $"{SendtoBytes}", $"{SendmsgBytes}", $"{RecvBuffer}")]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code (the workload's)\n{r.Describe()}");
        JsonElement facts = Python.ReadReport(report);
        int pid = facts.Int("pid"), p = facts.Int("rx_port"), q = facts.Int("tx_port");
        int rxFd = facts.Int("rx_fd"), txFd = facts.Int("tx_fd");
        log.WriteLine($"pid {pid}, receiver [::1]:{p} fd {rxFd}, sender [::1]:{q} fd {txFd}");

        var mine = r.OfPid(pid).ToList();
        Expect.All(r.Events, e => e.Family == "inet6" && e.Proto == "udp" || e.Func is "socket" && e.IsEnter,
            "with --family 6 --proto udp every event is an inet6/udp socket");

        // sendto: the peer from the call's sockaddr, at entry and at exit.
        foreach (string phase in new[] { "enter", "exit" })
        {
            TraceEvent send = Expect.Single(mine.Where(e => e.Is("sendto", phase)), $"sendto {phase}", mine, r);
            CheckUdp6(send, txFd, q, p);
            Expect.Equal<long?>(SendtoBytes, send.ReqBytes, "sendto req_bytes", send);
            if (send.IsExit)
            {
                Expect.Equal<long?>(SendtoBytes, send.Bytes, "sendto bytes", send);
                Expect.Equal<long?>(SendtoBytes, send.Ret, "sendto ret", send);
            }
        }
        TraceEvent recv = Expect.Single(mine.Exits("recvfrom"), "recvfrom exit", mine, r);
        CheckUdp6(recv, rxFd, p, q);
        Expect.Equal<long?>(SendtoBytes, recv.Bytes, "recvfrom bytes", recv);
        Expect.Equal<long?>(RecvBuffer, recv.ReqBytes, "recvfrom req_bytes (the buffer size)", recv);

        // The same with sendmsg/recvmsg (msg_name carries the peer).
        foreach (string phase in new[] { "enter", "exit" })
        {
            TraceEvent send = Expect.Single(mine.Where(e => e.Is("sendmsg", phase)), $"sendmsg {phase}", mine, r);
            CheckUdp6(send, txFd, q, p);
            Expect.Equal<long?>(SendmsgBytes, send.ReqBytes, "sendmsg req_bytes", send);
            if (send.IsExit)
                Expect.Equal<long?>(SendmsgBytes, send.Bytes, "sendmsg bytes", send);
        }
        TraceEvent recvmsg = Expect.Single(mine.Exits("recvmsg"), "recvmsg exit", mine, r);
        CheckUdp6(recvmsg, rxFd, p, q);
        Expect.Equal<long?>(SendmsgBytes, recvmsg.Bytes, "recvmsg bytes", recvmsg);
        Expect.Equal<long?>(RecvBuffer, recvmsg.ReqBytes, "recvmsg req_bytes (the iovec size)", recvmsg);

        // The local address, read from the bound socket, last: the checks above do not depend on it.
        foreach (TraceEvent e in mine.Where(e => e.Func is "sendto" or "recvfrom" or "sendmsg" or "recvmsg"))
            Expect.Equal("::1", e.Laddr, $"{e.Func} {e.Phase} laddr", e);

        // bind: the local address from the call's sockaddr, then from the socket.
        foreach ((int fd, int port) in new[] { (rxFd, p), (txFd, q) })
        {
            TraceEvent bind = Expect.Single(mine.Where(e => e.Is("bind", "exit") && e.Fd == fd), $"bind exit on fd {fd}", mine, r);
            Expect.Equal<long?>(0, bind.Ret, "bind ret", bind);
            Expect.Equal("::1", bind.Laddr, "bind laddr", bind);
            Expect.Equal<long?>(port, bind.Lport, "bind lport", bind);
        }
    }

    private static void CheckUdp6(TraceEvent e, int fd, int lport, int rport)
    {
        Expect.Equal<long?>(fd, e.Fd, $"{e.Func} fd", e);
        Expect.Equal("inet6", e.Family, $"{e.Func} family", e);
        Expect.Equal("udp", e.Proto, $"{e.Func} proto", e);
        Expect.Equal<long?>(lport, e.Lport, $"{e.Func} lport", e);
        Expect.Equal("::1", e.Raddr, $"{e.Func} raddr", e);
        Expect.Equal<long?>(rport, e.Rport, $"{e.Func} rport", e);
        Expect.Equal<string?>(null, e.Error, $"{e.Func} error", e);
    }
}
