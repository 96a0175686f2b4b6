using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>Failed calls show the errno by name with the negative return value.</summary>
public sealed class ErrnoTests(ITestOutputHelper log)
{
    // 1. recv on a connected non-blocking socket with nothing to read: EAGAIN.
    // 2. blocking connect to a port that is bound but not listening: ECONNREFUSED.
    // 3. non-blocking connect to a listener: EINPROGRESS.
    private const string Script = """
        import errno
        out = sys.argv[1]
        srv, cli, con = tcp_pair()
        cli.setblocking(False)
        try:
            cli.recv(100)
            sys.exit("recv returned data")
        except BlockingIOError as e:
            assert e.errno == errno.EAGAIN
        closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        closed.bind(("127.0.0.1", 0))
        refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            refused.connect(closed.getsockname())
            sys.exit("connect to a closed port succeeded")
        except ConnectionRefusedError:
            pass
        nb = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        nb.setblocking(False)
        assert nb.connect_ex(srv.getsockname()) == errno.EINPROGRESS
        report(out, recv_fd=cli.fileno(), server_port=srv.getsockname()[1], client_port=cli.getsockname()[1],
               closed_port=closed.getsockname()[1], refused_fd=refused.fileno(), nb_fd=nb.fileno())
        """;

    [PrivilegedFact]
    public async Task Eagain_econnrefused_and_einprogress_are_named()
    {
        using var tmp = new TempDir("errno");
        string report = tmp.File("report.json");
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--", .. Python.Command(Script, report)]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code (the workload's)\n{r.Describe()}");
        JsonElement facts = Python.ReadReport(report);
        int pid = facts.Int("pid");
        var mine = r.OfPid(pid).ToList();

        TraceEvent again = Expect.Single(mine.Where(e => e.Is("recvfrom", "exit") && e.Fd == facts.Int("recv_fd")),
            "recvfrom exit on the non-blocking socket", mine, r);
        Expect.Equal("EAGAIN", again.Error, "recvfrom error", again);
        Expect.Equal<long?>(-11, again.Ret, "recvfrom ret", again);
        Expect.Equal<long?>(null, again.Bytes, "recvfrom bytes of a failed call", again);
        Expect.Equal<long?>(100, again.ReqBytes, "recvfrom req_bytes", again);
        Expect.Equal("127.0.0.1", again.Laddr, "recvfrom laddr", again);
        Expect.Equal<long?>(facts.Int("client_port"), again.Lport, "recvfrom lport", again);
        Expect.Equal<long?>(facts.Int("server_port"), again.Rport, "recvfrom rport", again);

        TraceEvent refused = Expect.Single(mine.Where(e => e.Is("connect", "exit") && e.Fd == facts.Int("refused_fd")),
            "connect exit to the closed port", mine, r);
        Expect.Equal("ECONNREFUSED", refused.Error, "connect error", refused);
        Expect.Equal<long?>(-111, refused.Ret, "connect ret", refused);
        Expect.Equal("127.0.0.1", refused.Raddr, "connect raddr", refused);
        Expect.Equal<long?>(facts.Int("closed_port"), refused.Rport, "connect rport", refused);

        TraceEvent progress = Expect.Single(mine.Where(e => e.Is("connect", "exit") && e.Fd == facts.Int("nb_fd")),
            "non-blocking connect exit", mine, r);
        Expect.Equal("EINPROGRESS", progress.Error, "connect error", progress);
        Expect.Equal<long?>(-115, progress.Ret, "connect ret", progress);
        Expect.Equal<long?>(facts.Int("server_port"), progress.Rport, "connect rport", progress);

        // A successful call has no error.
        Expect.All(mine.Where(e => e.Is("connect", "exit") && e.Ret == 0), e => e.Error is null, "a connect returning 0 has error null");
    }
}
