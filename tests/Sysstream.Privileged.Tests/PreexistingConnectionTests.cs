using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;
using static Sysstream.Privileged.Tests.Infrastructure.TraceEventQueries;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// A TCP connection set up before the tracer starts and used after it attached: its events must
/// carry the full tuple and the cookie, read from the kernel socket at event time (nothing was
/// there to see at socket()/connect()).
/// </summary>
public sealed class PreexistingConnectionTests(ITestOutputHelper log)
{
    private const int RequestBytes = 3000;
    private const int ResponseBytes = 70000;

    // Connects, reports, waits for the go flag, then exchanges known bytes both ways.
    private const string Script = """
        out, go, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        srv, cli, con = tcp_pair()
        report(out, server_port=srv.getsockname()[1], client_port=cli.getsockname()[1],
               client_fd=cli.fileno(), conn_fd=con.fileno())
        wait_for(go)
        cli.sendall(b"a" * a)
        got = 0
        while got < a:
            got += len(con.recv(a - got))
        con.sendall(b"b" * b)
        got = 0
        while got < b:
            got += len(cli.recv(b - got))
        cli.close()
        con.close()
        srv.close()
        """;

    [PrivilegedFact]
    public async Task Connection_opened_before_the_trace_has_its_full_tuple_and_cookie()
    {
        using var tmp = new TempDir("preexisting");
        string report = tmp.File("report.json"), go = tmp.File("go");
        string[] cmd = Python.Command(Script, report, go, $"{RequestBytes}", $"{ResponseBytes}");
        using Process workload = Workload.Start(cmd[0], cmd[1..]);
        await Workload.WaitForFileAsync(report, TimeSpan.FromSeconds(30), workload);
        JsonElement facts = Python.ReadReport(report);
        int pid = facts.Int("pid"), serverPort = facts.Int("server_port"), clientPort = facts.Int("client_port");
        int clientFd = facts.Int("client_fd"), connFd = facts.Int("conn_fd");
        log.WriteLine($"pid {pid}: client fd {clientFd} 127.0.0.1:{clientPort} -> server fd {connFd} 127.0.0.1:{serverPort}");

        TraceResult r;
        await using (TraceRun run = await TraceRun.StartAsync(log,
            ["trace", "-o", "json", "--port", serverPort.ToString(CultureInfo.InvariantCulture)]))
        {
            File.WriteAllText(go, "go");
            ProcessOutcome done = await Workload.WaitAsync(workload, TimeSpan.FromSeconds(60), "python workload");
            Expect.Equal(0, done.ExitCode, $"workload exit code: {done.Stderr}");
            await Task.Delay(300); // let the last records reach the reader before stopping
            r = await run.StopAsync();
        }
        Expect.Equal(0, r.ExitCode, $"exit code after SIGTERM\n{r.Describe()}");
        Expect.Equal(0L, r.SummaryLost, $"lost events\n{r.Describe()}");

        var mine = r.OfPid(pid).ToList();
        var client = mine.Where(e => e.Fd == clientFd).ToList();
        var server = mine.Where(e => e.Fd == connFd).ToList();
        Expect.True(client.Exits("sendto").Any() && client.Exits("recvfrom").Any(),
            $"the client's sends and receives on fd {clientFd} are missing", mine);
        Expect.True(server.Exits("sendto").Any() && server.Exits("recvfrom").Any(),
            $"the server's sends and receives on fd {connFd} are missing", mine);

        // Every event of either end: both addresses and ports, and one nonzero cookie per end.
        CheckEnd(client, "127.0.0.1", clientPort, "127.0.0.1", serverPort, "client");
        CheckEnd(server, "127.0.0.1", serverPort, "127.0.0.1", clientPort, "server");
        TraceEvent c = client.First(e => e.IsExit), s = server.First(e => e.IsExit);
        Expect.True(c.Cookie != s.Cookie, "the two ends of a connection are different sockets with different cookies", [c, s]);

        Expect.Equal(RequestBytes, client.Exits(SendCalls).SumBytes(), "bytes the client sent");
        Expect.Equal(RequestBytes, server.Exits(RecvCalls).SumBytes(), "bytes the server received");
        Expect.Equal(ResponseBytes, server.Exits(SendCalls).SumBytes(), "bytes the server sent");
        Expect.Equal(ResponseBytes, client.Exits(RecvCalls).SumBytes(), "bytes the client received");
    }

    private static void CheckEnd(List<TraceEvent> events, string laddr, int lport, string raddr, int rport, string end)
    {
        // close exits keep what their entry saw; everything else on the socket is read live.
        foreach (TraceEvent e in events)
        {
            Expect.Equal("inet", e.Family, $"{end} {e.Func} family", e);
            Expect.Equal("tcp", e.Proto, $"{end} {e.Func} proto", e);
            Expect.Equal(laddr, e.Laddr, $"{end} {e.Func} {e.Phase} laddr", e);
            Expect.Equal<long?>(lport, e.Lport, $"{end} {e.Func} {e.Phase} lport", e);
            Expect.Equal(raddr, e.Raddr, $"{end} {e.Func} {e.Phase} raddr", e);
            Expect.Equal<long?>(rport, e.Rport, $"{end} {e.Func} {e.Phase} rport", e);
        }
        // The kernel assigns a socket's cookie lazily, the first time something asks for it. A
        // socket nobody asked about before the trace can only show it from the first call's
        // exit on; from then on every event carries the same one.
        var exits = events.Where(e => e.IsExit).ToList();
        ulong? cookie = exits[0].Cookie;
        Expect.True(cookie is > 0, $"{end} {exits[0].Func} exit has no socket cookie:\n{exits[0]}");
        Expect.All(exits, e => e.Cookie == cookie, $"every exit on the {end} end carries its cookie {cookie}");
        Expect.All(events.Where(e => e.Line > exits[0].Line), e => e.Cookie == cookie,
            $"every event on the {end} end after its first exit carries its cookie {cookie}");
        Expect.All(events.Where(e => e.Line < exits[0].Line), e => e.Cookie is null || e.Cookie == cookie,
            $"an event on the {end} end before the cookie was known has none or the same {cookie}");
    }
}
