using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Every call shows its entry and its exit. A call on a non-blocking socket travels from the
/// kernel as one record and is shown as both events; a call that may block shows its entry while
/// it waits.
/// </summary>
public sealed class CallRecordTests(ITestOutputHelper log)
{
    // A non-blocking client sends 1000 bytes and reads the server's 700-byte answer; then the
    // server blocks in recv until the test says "send", and the client sends 300 bytes.
    private const string Script = """
        import threading
        out, go, send = sys.argv[1], sys.argv[2], sys.argv[3]
        wait_for(go)
        srv, cli, con = tcp_pair()
        cli.setblocking(False)
        assert cli.send(b"a" * 1000) == 1000
        got = b""
        while len(got) < 1000:
            got += con.recv(1000 - len(got))
        con.sendall(b"b" * 700)
        time.sleep(0.2)
        assert len(cli.recv(4096)) == 700
        report(out + ".tid", tid=threading.get_native_id(), con_fd=con.fileno())
        def later():
            wait_for(send, seconds=60)
            while True:
                try:
                    cli.send(b"c" * 300)
                    return
                except BlockingIOError:
                    time.sleep(0.01)
        t = threading.Thread(target=later)
        t.start()
        data = con.recv(4096)
        assert len(data) == 300
        t.join()
        report(out, cli_fd=cli.fileno(), con_fd=con.fileno(), tid=threading.get_native_id(),
               client_port=cli.getsockname()[1], server_port=srv.getsockname()[1])
        """;

    [PrivilegedFact]
    public async Task Non_blocking_calls_show_entry_and_exit_and_a_blocked_call_shows_its_entry_while_it_waits()
    {
        using var tmp = new TempDir("calls");
        string report = tmp.File("report.json"), go = tmp.File("go"), send = tmp.File("send");
        string[] cmd = Python.Command(Script, report, go, send);
        using var py = Workload.Start(cmd[0], cmd[1..]);
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--pid", py.Id.ToString()]);
        File.WriteAllText(go, "");

        await Workload.WaitForFileAsync(report + ".tid", TimeSpan.FromSeconds(30), py);
        JsonElement early = Python.ReadReport(report + ".tid");
        long conFd = early.Int("con_fd");
        // The server is now blocked in recv: its entry must be out before anything is sent.
        string? entryLine = await run.WaitForOutputAsync(
            l => l.Contains("\"func\":\"recvfrom\"") && l.Contains("\"phase\":\"enter\"") && l.Contains($"\"fd\":{conFd},"),
            TimeSpan.FromSeconds(10));
        bool sentYet = File.Exists(send);
        File.WriteAllText(send, "");
        await Workload.WaitAsync(py, TimeSpan.FromSeconds(60), "python workload");
        TraceResult r = await run.StopAsync();
        Expect.True(entryLine is not null && !sentYet, "the blocked recvfrom's entry was printed while it waited", r.Events);

        JsonElement facts = Python.ReadReport(report);
        var mine = r.OfPid(py.Id).ToList();
        void Pair(string func, long fd, long bytes, long lport, long rport)
        {
            TraceEvent exit = Expect.Single(mine.Where(e => e.Is(func, "exit") && e.Fd == fd && e.Bytes == bytes), $"{func} exit of {bytes} bytes", mine, r);
            TraceEvent entry = Expect.Single(mine.Where(e => e.Is(func, "enter") && e.Fd == fd && e.Tid == exit.Tid && e.TsNs == exit.TsNs - exit.DurationNs),
                $"the entry of that {func}", mine, r);
            Expect.True(entry.Line < exit.Line, $"{func} entry before its exit", [entry, exit]);
            Expect.Equal(exit.Cookie, entry.Cookie, $"{func} cookie", entry);
            Expect.True(exit.Cookie is > 0, $"{func} has a cookie", [exit]);
            Expect.Equal<long?>(lport, entry.Lport, $"{func} entry lport", entry);
            Expect.Equal<long?>(rport, entry.Rport, $"{func} entry rport", entry);
            Expect.Equal<long?>(lport, exit.Lport, $"{func} exit lport", exit);
            Expect.Equal<long?>(null, entry.Ret, $"{func} entry has no result", entry);
        }
        int client = facts.Int("client_port"), server = facts.Int("server_port");
        Pair("sendto", facts.Int("cli_fd"), 1000, client, server);      // non-blocking socket
        Pair("recvfrom", facts.Int("cli_fd"), 700, client, server);     // non-blocking socket
        Pair("sendto", facts.Int("cli_fd"), 300, client, server);       // non-blocking, other thread
        Pair("recvfrom", facts.Int("con_fd"), 300, server, client);     // blocked until the send
        // It waited for the send: it began before the send began and returned after the send did.
        TraceEvent blocked = mine.Single(e => e.Is("recvfrom", "exit") && e.Fd == facts.Int("con_fd") && e.Bytes == 300);
        TraceEvent sent = mine.Single(e => e.Is("sendto", "exit") && e.Fd == facts.Int("cli_fd") && e.Bytes == 300);
        long blockedEntry = blocked.TsNs - blocked.DurationNs!.Value, sentEntry = sent.TsNs - sent.DurationNs!.Value;
        Expect.True(blockedEntry < sentEntry && sent.TsNs < blocked.TsNs, "the blocked recvfrom began before the send and returned after it", [blocked, sent]);

        // No event twice, none missing: every exit has exactly one entry.
        foreach (TraceEvent exit in mine.Where(e => e.IsExit))
            Expect.Single(mine.Where(e => e.IsEnter && e.Tid == exit.Tid && e.Func == exit.Func && e.TsNs == exit.TsNs - exit.DurationNs),
                $"one entry for {exit.Func} exit at line {exit.Line}", mine, r);
    }
}
