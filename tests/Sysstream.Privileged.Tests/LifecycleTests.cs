using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// The executable's life: refusing to run unprivileged, bad flags, --duration, SIGTERM (drain,
/// summary, nothing left in the kernel), and `trace -- CMD` following exactly the command's tree.
/// </summary>
public sealed class LifecycleTests(ITestOutputHelper log)
{
    private const int NobodyId = 65534;

    [PrivilegedFact]
    public async Task Unprivileged_user_gets_one_line_and_exit_77()
    {
        string setpriv = Tools.Setpriv;
        using var tmp = new TempDir("nobody");
        SysstreamExecutable exe = SysstreamExecutable.Default.CopyForAnyUser(tmp);
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json"], waitForAttach: false, exe: exe,
            runAs: [setpriv, $"--reuid={NobodyId}", $"--regid={NobodyId}", "--clear-groups", "--inh-caps=-all"],
            env: new Dictionary<string, string> { ["HOME"] = tmp.Path });
        TraceResult r = await run.WaitForExitAsync();
        Expect.Equal(77, r.ExitCode, $"exit code as uid {NobodyId}\n{r.Describe()}");
        string error = CheckOneErrorLine(r);
        Expect.True(error.Contains("root", StringComparison.OrdinalIgnoreCase) || error.Contains("CAP_", StringComparison.Ordinal),
            $"the error line says neither root nor the capabilities it needs: {error}");
    }

    [PrivilegedTheory]
    [InlineData("--no-such-flag")]
    [InlineData("--family 5")]
    [InlineData("--proto sctp")]
    [InlineData("--port 70000")]
    [InlineData("--pid 0")]
    [InlineData("--duration soon")]
    [InlineData("-o xml")]
    [InlineData("--ring-buffer-size 5000")]
    [InlineData("--ring-buffer-size 2048")]
    public async Task Bad_flag_gives_one_line_and_exit_64(string flag)
    {
        string[] args = ["trace", .. flag.Split(' ')];
        await using TraceRun run = await TraceRun.StartAsync(log, args, waitForAttach: false, name: "BadFlag");
        TraceResult r = await run.WaitForExitAsync();
        Expect.Equal(64, r.ExitCode, $"exit code of `sysstream {string.Join(' ', args)}`\n{r.Describe()}");
        CheckOneErrorLine(r);
    }

    [PrivilegedFact]
    public async Task Duration_stops_by_itself_with_exit_0()
    {
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["trace", "-o", "json", "--duration", "1s", "--port", $"{NginxServer.FreeTcpPort()}"]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(20));
        TimeSpan attached = Stopwatch.GetElapsedTime(run.StartedTimestamp, run.AttachedTimestamp);
        TimeSpan ran = Stopwatch.GetElapsedTime(run.AttachedTimestamp, run.ExitedTimestamp);
        log.WriteLine($"attached {attached.TotalMilliseconds:0} ms after start, exited {ran.TotalMilliseconds:0} ms after that");
        Expect.Equal(0, r.ExitCode, $"exit code after --duration 1s\n{r.Describe()}");
        Expect.True(ran >= TimeSpan.FromSeconds(0.95), $"stopped {ran.TotalMilliseconds:0} ms after attaching, before its 1s");
        Expect.True(ran < TimeSpan.FromSeconds(5), $"--duration 1s took {ran.TotalSeconds:0.0}s after attaching to stop");
        Expect.True(r.SummaryLine is not null, $"no summary line\n{r.Describe()}");
    }

    [PrivilegedFact]
    public async Task Sigterm_drains_prints_the_summary_and_releases_every_kernel_object()
    {
        _ = Tools.Bpftool;
        var before = (await Bpftool.ListAsync()).Select(o => o.Id).ToHashSet();
        const int rounds = 50, q = 64, s = 128;
        int port = NginxServer.FreeTcpPort();
        using var tmp = new TempDir("sigterm");
        string report = tmp.File("report.json");

        TraceResult r;
        IReadOnlyList<Bpftool.KernelObject> ours;
        IReadOnlyList<long> links;
        await using (TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--port", $"{port}"]))
        {
            ours = (await Bpftool.ListAsync()).Where(o => !before.Contains(o.Id)).ToList();
            links = await Bpftool.LinksOfAsync(ours.Where(o => o.Kind == "prog").Select(o => o.Id));
            log.WriteLine($"while tracing: {string.Join(", ", ours)}; links {string.Join(", ", links)}");
            // Traffic right before the signal: all of it must still come out.
            string[] cmd = Python.Command(Python.PingPong, report, $"{rounds}", $"{q}", $"{s}", $"{port}");
            await Workload.RunOkAsync(cmd[0], cmd[1..]);
            r = await run.StopAsync();
        }
        Expect.True(ours.Any(o => o.Kind == "prog" && o.Name == "ss_sys_enter") && ours.Any(o => o.Kind == "prog" && o.Name == "ss_sys_exit"),
            $"bpftool showed no ss_sys_enter/ss_sys_exit program while tracing: {string.Join(", ", ours)}");
        Expect.True(links.Count > 0, "bpftool showed no link of sysstream's programs while tracing");

        Expect.Equal(0, r.ExitCode, $"exit code after SIGTERM\n{r.Describe()}");
        Expect.True(r.SummaryLine is not null, $"no summary line after SIGTERM\n{r.Describe()}");
        Expect.Equal((long)r.Events.Count, r.SummaryEvents, "events in the summary vs JSON records printed");
        Expect.Equal(0L, r.SummaryLost, "lost events");
        JsonElement facts = Python.ReadReport(report);
        int pid = facts.Int("pid"), cli = facts.Int("client_fd"), con = facts.Int("conn_fd");
        foreach ((string func, int fd) in new[] { ("sendto", cli), ("recvfrom", con), ("sendto", con), ("recvfrom", cli) })
        {
            Expect.Equal(rounds, r.OfPid(pid).Count(e => e.Is(func, "exit") && e.Fd == fd),
                $"{func} exits on fd {fd} printed before exiting on SIGTERM");
        }

        // Everything sysstream loaded is gone (freed asynchronously: give the kernel a moment).
        IReadOnlyList<Bpftool.KernelObject> left = [];
        IReadOnlyList<long> leftLinks = [];
        var sw = Stopwatch.StartNew();
        do
        {
            var ids = ours.Select(o => o.Id).ToHashSet();
            left = (await Bpftool.ListAsync()).Where(o => ids.Contains(o.Id)).ToList();
            leftLinks = await Bpftool.LinksOfAsync(ours.Where(o => o.Kind == "prog").Select(o => o.Id));
            if (left.Count == 0 && leftLinks.Count == 0)
                break;
            await Task.Delay(100);
        }
        while (sw.Elapsed < TimeSpan.FromSeconds(5));
        Expect.True(left.Count == 0, $"still in the kernel after exit: {string.Join(", ", left)}");
        Expect.True(leftLinks.Count == 0, $"links still in the kernel after exit: {string.Join(", ", leftLinks)}");
    }

    [PrivilegedFact]
    public async Task Command_mode_traces_the_command_and_its_children_only()
    {
        string curl = Tools.Curl;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 4321);
        using var tmp = new TempDir("cmd");
        string pids = tmp.File("pids"), go = tmp.File("go");
        // The shell waits for the go flag, then runs curl as a child (not exec'd).
        string script = $"while [ ! -e {go} ]; do sleep 0.02; done; {curl} -s -o /dev/null {nginx.Url} & "
            + $"echo $$ $! > {pids}.tmp; mv {pids}.tmp {pids}; wait $!";

        TraceResult r;
        ProcessOutcome outsider;
        await using (TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--", Tools.Sh, "-c", script]))
        {
            // Traffic from outside the command's tree while it is traced: another curl, and this process.
            outsider = await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
            using (var http = new HttpClient())
                Assert.Equal(nginx.FileSize, (await http.GetByteArrayAsync(nginx.Url)).Length);
            File.WriteAllText(go, "go");
            r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        }
        Expect.Equal(0, r.ExitCode, $"exit code (the command's)\n{r.Describe()}");
        string[] ids = File.ReadAllText(pids).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int shPid = int.Parse(ids[0], CultureInfo.InvariantCulture), curlPid = int.Parse(ids[1], CultureInfo.InvariantCulture);
        log.WriteLine($"sh {shPid}, curl {curlPid}, outside curl {outsider.Pid}, nginx worker {nginx.WorkerPid}, test {Environment.ProcessId}");

        Expect.True(r.Events.Count > 0, $"no events at all\n{r.Describe()}");
        Expect.All(r.Events, e => e.Pid == shPid || e.Pid == curlPid,
            $"every event belongs to the command (sh {shPid}) or its child (curl {curlPid}); outside curl {outsider.Pid}, nginx worker {nginx.WorkerPid}, test host {Environment.ProcessId} must not show");

        var mine = r.OfPid(curlPid).ToList();
        TraceEvent connect = Expect.Single(mine.Where(e => e.Is("connect", "exit") && e.Rport == nginx.Port),
            "curl's connect exit to nginx", mine, r);
        Expect.Equal("curl", connect.Comm, "comm", connect);
        Expect.Equal((long)shPid, connect.Ppid, "ppid (the command's shell)", connect);
        Expect.Equal("sh", connect.Pcomm, "pcomm", connect);
        int lport = (int)(connect.Lport ?? 0);
        AccessLogEntry entry = await nginx.WaitForRequestAsync(lport);
        Expect.Equal(entry.BytesSent, mine.Where(e => e.LocalIs("127.0.0.1", lport) && e.RemoteIs("127.0.0.1", nginx.Port))
            .Exits(TraceEventQueries.RecvCalls).SumBytes(), "bytes curl received (nginx's $bytes_sent)");
    }

    /// <summary>stdout empty; stderr one `sysstream: ...` line, optionally one `hint: ...` line, no stack trace.</summary>
    private static string CheckOneErrorLine(TraceResult r)
    {
        Expect.True(r.StdoutLines.Count == 0, $"stdout is not empty on an error:\n{string.Join('\n', r.StdoutLines.Take(5))}");
        var lines = r.StderrLines.Where(l => l.Length > 0).ToList();
        string all = string.Join('\n', lines);
        if (lines.Count is < 1 or > 2 || !lines[0].StartsWith("sysstream: ", StringComparison.Ordinal)
            || (lines.Count == 2 && !lines[1].StartsWith("hint: ", StringComparison.Ordinal)))
            throw new XunitException($"expected one 'sysstream: ...' line and at most one 'hint: ...' line on stderr, got:\n{all}");
        if (all.Contains("   at ", StringComparison.Ordinal) || all.Contains("Exception", StringComparison.Ordinal))
            throw new XunitException($"stack trace or exception name on stderr:\n{all}");
        return lines[0];
    }
}
