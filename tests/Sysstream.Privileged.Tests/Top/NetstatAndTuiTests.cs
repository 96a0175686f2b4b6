using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Top;

/// <summary>
/// `sysstream netstat` on sockets opened before it started (a listener of another user, and a
/// loopback connection between two processes), and `sysstream top` drawn in a real terminal.
/// </summary>
public sealed class NetstatAndTuiTests(ITestOutputHelper log)
{
    private const string Server = """
        out = sys.argv[1]
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        report(out, port=srv.getsockname()[1], fd=srv.fileno())
        con, peer = srv.accept()
        time.sleep(60)
        """;

    private const string Client = """
        out, port = sys.argv[1], int(sys.argv[2])
        cli = socket.create_connection(("127.0.0.1", port))
        report(out, port=cli.getsockname()[1], fd=cli.fileno())
        time.sleep(60)
        """;

    private static async Task<JsonElement> NetstatAsync(params string[] args)
    {
        SysstreamExecutable exe = SysstreamExecutable.Default;
        ProcessOutcome o = await Workload.RunOkAsync(exe.FileName, exe.Arguments(["netstat", "-o", "json", .. args]), TimeSpan.FromSeconds(60));
        using var doc = JsonDocument.Parse(o.Stdout);
        return doc.RootElement.Clone();
    }

    [PrivilegedFact]
    public async Task Netstat_lists_an_older_listener_with_its_user_and_a_local_connection_with_both_owners()
    {
        string setpriv = Tools.Setpriv;
        using var dir = new TempDir("netstat");
        string shared = dir.Sub("out");
        File.SetUnixFileMode(shared, (UnixFileMode)0x1FF); // nobody writes its report here
        string srvReport = Path.Combine(shared, "server.json"), cliReport = Path.Combine(shared, "client.json");
        using Process server = Workload.Start(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
            .. Python.Command(Server, srvReport)]);
        Process? client = null;
        try
        {
            await Workload.WaitForFileAsync(srvReport, TimeSpan.FromSeconds(20), server);
            JsonElement s = Python.ReadReport(srvReport);
            int port = s.GetProperty("port").GetInt32(), serverPid = s.GetProperty("pid").GetInt32();
            string[] cli = Python.Command(Client, cliReport, port.ToString(CultureInfo.InvariantCulture));
            client = Workload.Start(cli[0], cli[1..]);
            await Workload.WaitForFileAsync(cliReport, TimeSpan.FromSeconds(20), client);
            JsonElement c = Python.ReadReport(cliReport);
            int clientPid = c.GetProperty("pid").GetInt32(), clientPort = c.GetProperty("port").GetInt32();
            string nobody = Posix.Ids(serverPid).Uid == 65534 ? UserName(65534) : throw new XunitException("setpriv did not change the user");
            log.WriteLine($"server pid {serverPid} ({nobody}) port {port}; client pid {clientPid} port {clientPort}");

            JsonElement all = await NetstatAsync("--proto", "tcp");
            var sockets = all.GetProperty("sockets").EnumerateArray().ToList();

            JsonElement listener = sockets.Single(x => x.GetProperty("lport").GetInt32() == port && x.GetProperty("state").GetString() == "LISTEN");
            Assert.True(listener.GetProperty("listening").GetBoolean());
            Assert.Equal("127.0.0.1", listener.GetProperty("laddr").GetString());
            Assert.Equal(nobody, listener.GetProperty("user").GetString());
            JsonElement owner = Assert.Single(listener.GetProperty("owners").EnumerateArray());
            Assert.Equal(serverPid, owner.GetProperty("pid").GetInt32());
            Assert.Equal("python3", owner.GetProperty("comm").GetString());
            Assert.Equal(nobody, owner.GetProperty("user").GetString());
            Assert.Equal(s.GetProperty("fd").GetInt32(), owner.GetProperty("fd").GetInt32());

            JsonElement clientEnd = sockets.Single(x => x.GetProperty("lport").GetInt32() == clientPort && x.GetProperty("rport").GetInt32() == port);
            Assert.Equal("ESTABLISHED", clientEnd.GetProperty("state").GetString());
            Assert.Equal(clientPid, Assert.Single(clientEnd.GetProperty("owners").EnumerateArray()).GetProperty("pid").GetInt32());
            Assert.Equal(c.GetProperty("fd").GetInt32(), clientEnd.GetProperty("owners")[0].GetProperty("fd").GetInt32());
            Assert.Equal(serverPid, Assert.Single(clientEnd.GetProperty("peer").GetProperty("owners").EnumerateArray()).GetProperty("pid").GetInt32());

            JsonElement serverEnd = sockets.Single(x => x.GetProperty("lport").GetInt32() == port && x.GetProperty("rport").GetInt32() == clientPort);
            Assert.Equal(serverPid, Assert.Single(serverEnd.GetProperty("owners").EnumerateArray()).GetProperty("pid").GetInt32());
            Assert.Equal(clientPid, serverEnd.GetProperty("peer").GetProperty("owners")[0].GetProperty("pid").GetInt32());

            // Filters: only the listener of this port; only the client's sockets.
            var onlyListen = (await NetstatAsync("--listen", "--port", port.ToString(CultureInfo.InvariantCulture))).GetProperty("sockets");
            Assert.Equal(listener.GetProperty("inode").GetUInt64(), Assert.Single(onlyListen.EnumerateArray()).GetProperty("inode").GetUInt64());
            var ofClient = (await NetstatAsync("--pid", clientPid.ToString(CultureInfo.InvariantCulture), "--proto", "tcp")).GetProperty("sockets");
            Assert.Equal(clientPort, Assert.Single(ofClient.EnumerateArray()).GetProperty("lport").GetInt32());
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            if (client is { HasExited: false })
                client.Kill();
            client?.Dispose();
        }
    }

    [PrivilegedFact]
    public async Task Netstat_watch_counts_bytes_on_a_connection_opened_before_it_started()
    {
        using var dir = new TempDir("netstat-watch");
        string report = dir.File("report.json"), go = dir.File("go"), done = dir.File("done");
        string[] script = Python.Command("""
            out, go, done = sys.argv[1], sys.argv[2], sys.argv[3]
            srv, cli, con = tcp_pair()
            report(out, client_port=cli.getsockname()[1], server_port=srv.getsockname()[1])
            wait_for(go)
            for i in range(5):
                cli.sendall(b"q" * 100)
                assert len(con.recv(100, socket.MSG_WAITALL)) == 100
                con.sendall(b"r" * 1000)
                assert len(cli.recv(1000, socket.MSG_WAITALL)) == 1000
            with open(done, "w") as f:
                f.write("1")
            time.sleep(30)
            """, report, go, done);
        using Process pair = Workload.Start(script[0], script[1..]);
        try
        {
            await Workload.WaitForFileAsync(report, TimeSpan.FromSeconds(20), pair);
            JsonElement rep = Python.ReadReport(report);
            int cport = rep.GetProperty("client_port").GetInt32(), sport = rep.GetProperty("server_port").GetInt32();

            await using TraceRun netstat = await TraceRun.StartAsync(log,
                ["netstat", "--watch", "-o", "json", "-d", "200ms", "--port", sport.ToString(CultureInfo.InvariantCulture)]);
            File.WriteAllText(go, "");
            await Workload.WaitForFileAsync(done, TimeSpan.FromSeconds(20), pair);
            await Task.Delay(600);
            TraceResult r = await netstat.StopAsync();
            Assert.Equal(0, r.ExitCode);
            var sockets = r.All[^1].Json.GetProperty("sockets").EnumerateArray().ToList();

            JsonElement client = sockets.Single(x => x.GetProperty("lport").GetInt32() == cport);
            Assert.Equal(500, client.GetProperty("tx_bytes").GetInt64());
            Assert.Equal(5000, client.GetProperty("rx_bytes").GetInt64());
            Assert.True(client.GetProperty("age_s").GetDouble() > 0);
            JsonElement server = sockets.Single(x => x.GetProperty("lport").GetInt32() == sport && x.GetProperty("rport").GetInt32() == cport);
            Assert.Equal(5000, server.GetProperty("tx_bytes").GetInt64());
            Assert.Equal(500, server.GetProperty("rx_bytes").GetInt64());
            JsonElement listener = sockets.Single(x => x.GetProperty("state").GetString() == "LISTEN");
            Assert.Equal(JsonValueKind.Null, listener.GetProperty("tx_bytes").ValueKind); // moved no bytes
        }
        finally
        {
            pair.Kill();
        }
    }

    private static string UserName(uint uid) =>
        File.ReadLines("/etc/passwd").Select(l => l.Split(':')).First(f => f.Length > 2 && f[2] == uid.ToString(CultureInfo.InvariantCulture))[0];

    [PrivilegedFact]
    public async Task Tui_draws_in_a_real_terminal_switches_views_and_restores_it_on_q_and_on_SIGTERM()
    {
        string tmux = Tools.Require("tmux", "/usr/bin/tmux");
        await using TopNginx nginx = await TopNginx.StartAsync(20_000);
        SysstreamExecutable exe = SysstreamExecutable.Default;
        string command = string.Join(' ', exe.Arguments(["top", "-d", "300ms"]).Prepend(exe.FileName).Select(Quote));
        string session = $"sstop{Environment.ProcessId}";
        using var dir = new TempDir("tui");
        string status = dir.File("status");
        await Tmux(tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "50", $"{command}; echo EXITED=$? > {status}; sleep 60");
        try
        {
            string screen = await WaitForScreen(tmux, session, s => s.Contains("sysstream top") && s.Contains("PID"), "the process view");
            for (int i = 0; i < 3; i++)
                await Workload.RunOkAsync(Tools.Curl, ["-s", "-o", "/dev/null", nginx.Url()]);
            screen = await WaitForScreen(tmux, session, s => s.Contains(" curl") && s.Contains(" nginx"), "curl and nginx rows");
            log.WriteLine(screen);
            string[] lines = screen.Split('\n');
            Assert.Contains("[1 Processes]", lines[2]);
            Assert.Matches(@"^\s+PID\s+PPID\s+USER", lines[3]);

            await Tmux(tmux, "send-keys", "-t", session, "c");
            screen = await WaitForScreen(tmux, session, s => s.Contains("[c Connections]") && s.Contains("REMOTE"), "the connection view");
            Assert.Contains($"127.0.0.1:{nginx.Port}", screen);
            await Tmux(tmux, "send-keys", "-t", session, "?");
            await WaitForScreen(tmux, session, s => s.Contains("sort by the next"), "the help");
            await Tmux(tmux, "send-keys", "-t", session, "Escape");
            await Tmux(tmux, "send-keys", "-t", session, "q");
            screen = await WaitForScreen(tmux, session, s => !s.Contains("sysstream top"), "the restored terminal");
            Assert.Equal("EXITED=0", (await WaitForFile(status)).Trim());
        }
        finally
        {
            await Tmux(tmux, "kill-session", "-t", session);
        }

        // SIGTERM: the terminal is restored as well.
        File.Delete(status);
        await Tmux(tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "30", $"{command}; echo EXITED=$? > {status}; sleep 60");
        try
        {
            await WaitForScreen(tmux, session, s => s.Contains("sysstream top") && s.Contains("PID"), "the process view");
            int shell = int.Parse((await Tmux(tmux, "list-panes", "-t", session, "-F", "#{pane_pid}")).Trim(), CultureInfo.InvariantCulture);
            int top = FindDescendant(shell, exe.IsNative ? "sysstream" : "dotnet");
            Assert.True(Posix.Signal(top, Posix.SIGTERM));
            string screen = await WaitForScreen(tmux, session, s => !s.Contains("sysstream top"), "the restored terminal");
            Assert.Equal("EXITED=0", (await WaitForFile(status)).Trim());
            log.WriteLine(screen);
        }
        finally
        {
            await Tmux(tmux, "kill-session", "-t", session);
        }
    }

    private static int FindDescendant(int pid, string comm)
    {
        foreach (int child in Posix.Children(pid))
        {
            if (File.ReadAllText($"/proc/{child}/comm").Trim() == comm)
                return child;
            int deeper = FindDescendant(child, comm);
            if (deeper > 0)
                return deeper;
        }
        return -1;
    }

    private static async Task<string> Tmux(string tmux, params string[] args)
    {
        ProcessOutcome o = await Workload.RunAsync(tmux, args, TimeSpan.FromSeconds(20));
        return o.Stdout;
    }

    private static async Task<string> WaitForScreen(string tmux, string session, Func<string, bool> done, string what)
    {
        var sw = Stopwatch.StartNew();
        string screen = "";
        while (sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            screen = await Tmux(tmux, "capture-pane", "-p", "-t", session);
            if (done(screen))
                return screen;
            await Task.Delay(100);
        }
        throw new XunitException($"the terminal never showed {what}; last screen:\n{screen}");
    }

    private static async Task<string> WaitForFile(string path)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (File.Exists(path) && File.ReadAllText(path).Length > 0)
                return File.ReadAllText(path);
            await Task.Delay(50);
        }
        throw new XunitException($"{path} was never written (did top exit?)");
    }

    private static string Quote(string a) => a.All(ch => char.IsLetterOrDigit(ch) || "-_./=:@%+,".Contains(ch)) ? a : $"'{a.Replace("'", "'\\''")}'";
}
