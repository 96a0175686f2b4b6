using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Capture;

/// <summary>
/// `sysstream capture` with real programs, read back by tshark: every packet of a curl-nginx
/// exchange carries the processes behind it, the Lua plugin's fields select exactly one process's
/// packets, UDP over ::1 shows both processes, `trace -r` prints what a live trace printed, and a
/// damaged file gives one error line with its offset.
/// </summary>
public sealed class CaptureTests(ITestOutputHelper log)
{
    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    // With system calls the tracer's hooks do the owner bookkeeping; packets only, the capture's own.
    [PrivilegedTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_packet_of_a_curl_fetch_from_nginx_carries_its_processes(bool syscalls)
    {
        string curl = Tools.Curl;
        _ = Tshark.Path;
        using var tmp = new TempDir("capture-nginx");
        string file = tmp.File("out.pcapng");
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 54_321);

        TraceResult r;
        ProcessOutcome fetch;
        string[] args = syscalls ? ["--port", I(nginx.Port)] : ["--port", I(nginx.Port), "--no-syscalls"];
        await using (TraceRun run = await CaptureRun.StartAsync(log, file, args))
        {
            fetch = await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
            await Task.Delay(300); // the connection's last packets
            r = await run.StopAsync();
        }
        Expect.Equal(0, r.ExitCode, $"capture's exit code\n{r.Describe()}");
        log.WriteLine(CaptureRun.Summary(r));
        await Tshark.ReadCleanlyAsync(file);

        List<Frame> packets = await Tshark.FramesAsync(file, $"tcp.port == {nginx.Port}",
            ["tcp.srcport", "tcp.dstport", "tcp.flags.str", "tcp.len", "frame.comment"]);
        Assert.True(packets.Count >= 8, $"only {packets.Count} packets on port {nginx.Port}");
        int curlPort = packets.Select(f => f.IntField("tcp.srcport") == nginx.Port ? f.IntField("tcp.dstport") : f.IntField("tcp.srcport")).Distinct().Single()!.Value;
        log.WriteLine($"curl pid {fetch.Pid} port {curlPort}; nginx worker {nginx.WorkerPid} port {nginx.Port}; {packets.Count} packets");

        // Every packet on the port has a process on some end: as many packets with context as packets.
        int withContext = packets.Count(f => f.Ends.Any(e => e.HasProcess));
        Expect.Equal(packets.Count, withContext, "packets with a process context, of the packets on the port");

        // Every packet of curl's connection carries curl's pid and comm (it sent it or received it).
        foreach (Frame f in packets)
        {
            Assert.True(f.Ends.Any(e => e.Pid == fetch.Pid && e.Comm == "curl"),
                $"packet without curl (pid {fetch.Pid}) on its connection: {f}");
        }
        // Every packet nginx sent carries the worker as its sender.
        foreach (Frame f in packets.Where(f => f.IntField("tcp.srcport") == nginx.Port))
        {
            PacketEnd? sender = f.Ends.FirstOrDefault(e => e.Dir == "out");
            Assert.True(sender is not null && sender.Pid == nginx.WorkerPid && sender.Comm == "nginx",
                $"a packet nginx sent is not the worker's (pid {nginx.WorkerPid}): {f}");
        }
        // A packet with data leaves inside the call that sent it, which it carries (the call in
        // progress on that socket, not the socket's previous use).
        string[] sends = ["write", "writev", "sendfile", "sendto", "sendmsg", "sendmmsg", "splice"];
        foreach (Frame f in packets.Where(f => f.IntField("tcp.len") > 0))
        {
            PacketEnd? sender = f.Ends.FirstOrDefault(e => e.Dir == "out");
            Assert.True(sender is not null && sends.Contains(sender.Fields.GetValueOrDefault("syscall")),
                $"a data packet does not carry the call that sent it: {f}");
        }
        // ... and every packet curl sent, curl as its sender, with its command line.
        foreach (Frame f in packets.Where(f => f.IntField("tcp.srcport") == curlPort))
        {
            PacketEnd? sender = f.Ends.FirstOrDefault(e => e.Dir == "out");
            Assert.True(sender is not null && sender.Pid == fetch.Pid && sender.Fields.GetValueOrDefault("cmd", "").Contains(nginx.Url, StringComparison.Ordinal),
                $"a packet curl sent is not curl's, with its command line: {f}");
        }

        // The Lua plugin: a filter on sysstream.pid selects exactly that process's packets.
        foreach (int pid in new[] { fetch.Pid, nginx.WorkerPid })
        {
            var expected = packets.Where(f => f.Ends.Any(e => e.Pid == pid)).Select(f => f.Number).ToList();
            var selected = (await Tshark.FramesAsync(file, $"sysstream.pid == {pid}", [], lua: true)).Select(f => f.Number).ToList();
            Assert.Equal(expected, selected);
            Assert.Equal(packets.Select(f => f.Number).ToList(), selected); // on loopback both are on every packet
        }
        var sentByWorker = (await Tshark.FramesAsync(file, $"sysstream.out.pid == {nginx.WorkerPid} && sysstream.out.comm == \"nginx\"", [], lua: true))
            .Select(f => f.Number).ToList();
        Assert.Equal(packets.Where(f => f.IntField("tcp.srcport") == nginx.Port).Select(f => f.Number).ToList(), sentByWorker);
        var curlRoot = await Tshark.FramesAsync(file, "sysstream.comm == \"curl\" && sysstream.uid == 0", [], lua: true);
        Assert.Equal(packets.Count, curlRoot.Count);
    }

    [PrivilegedFact]
    public async Task Udp_over_ipv6_is_captured_with_both_processes()
    {
        _ = Tshark.Path;
        using var tmp = new TempDir("capture-udp6");
        string file = tmp.File("out.pcapng"), report = tmp.File("report.json");
        int port = FreeUdp6Port();
        // A server process and a client process (forked), three datagrams each way.
        const string Script = """
            out, port = sys.argv[1], int(sys.argv[2])
            srv = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            srv.bind(("::1", port))
            child = os.fork()
            if child == 0:
                cli = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                for i in range(3):
                    cli.sendto(b"ping %d" % i, ("::1", port))
                    cli.recvfrom(100)
                os._exit(0)
            for i in range(3):
                data, peer = srv.recvfrom(100)
                srv.sendto(b"pong " + data, peer)
            os.waitpid(child, 0)
            report(out, server=os.getpid(), client=child)
            """;
        TraceResult r;
        await using (TraceRun run = await CaptureRun.StartAsync(log, file, ["--port", I(port), "--family", "6"]))
        {
            await RunPythonAsync(Python.Command(Script, report, I(port)));
            r = await run.StopAsync();
        }
        Expect.Equal(0, r.ExitCode, $"capture's exit code\n{r.Describe()}");
        log.WriteLine(CaptureRun.Summary(r));
        JsonElement facts = Python.ReadReport(report);
        int server = facts.Int("server"), client = facts.Int("client");
        await Tshark.ReadCleanlyAsync(file);

        List<Frame> datagrams = await Tshark.FramesAsync(file, $"udp.port == {port}", ["ipv6.src", "udp.srcport", "udp.dstport", "frame.comment"]);
        Expect.Equal(6, datagrams.Count, "datagrams on the port");
        foreach (Frame f in datagrams)
        {
            Assert.Equal("::1", f.Field("ipv6.src"));
            bool fromServer = f.IntField("udp.srcport") == port;
            (int sender, int receiver) = fromServer ? (server, client) : (client, server);
            PacketEnd? outEnd = f.Ends.FirstOrDefault(e => e.Dir == "out"), inEnd = f.Ends.FirstOrDefault(e => e.Dir == "in");
            Assert.True(outEnd?.Pid == sender && outEnd.Fields.GetValueOrDefault("syscall") == "sendto", $"sender {sender} (sendto) missing: {f}");
            Assert.True(inEnd?.Pid == receiver, $"receiver {receiver} missing: {f}");
        }
    }

    [PrivilegedFact]
    public async Task Trace_r_prints_the_system_calls_a_live_trace_printed()
    {
        using var tmp = new TempDir("capture-replay");
        string file = tmp.File("out.pcapng"), report = tmp.File("report.json");
        int port = NginxServer.FreeTcpPort();
        string[] filter = ["--port", I(port)];

        TraceResult live, captured;
        await using (TraceRun trace = await TraceRun.StartAsync(log, ["trace", "-o", "json", .. filter], name: "replay-live"))
        await using (TraceRun capture = await CaptureRun.StartAsync(log, file, filter))
        {
            await RunPythonAsync(Python.Command(Python.PingPong, report, "20", "100", "3000", I(port)));
            await Task.Delay(200);
            captured = await capture.StopAsync();
            live = await trace.StopAsync();
        }
        Expect.Equal(0, captured.ExitCode, $"capture's exit code\n{captured.Describe()}");
        Expect.Equal(0L, live.SummaryLost, "events the live trace lost");

        // No root needed to read it back: run as nobody, without capabilities.
        File.SetUnixFileMode(file, TempDir.Mode755);
        using var bin = new TempDir("capture-replay-bin");
        SysstreamExecutable exe = SysstreamExecutable.Default.CopyForAnyUser(bin);
        await using TraceRun replay = await TraceRun.StartAsync(log, ["trace", "-r", file, "-o", "json"], waitForAttach: false, exe: exe,
            runAs: [Tools.Setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"],
            env: new Dictionary<string, string> { ["HOME"] = bin.Path }, name: "replay-read");
        TraceResult read = await replay.WaitForExitAsync();
        Expect.Equal(0, read.ExitCode, $"trace -r's exit code\n{read.Describe()}");
        Expect.Equal(0L, read.SummaryLost, "lost records in the recording");

        static string Key(TraceEvent e) => string.Join(' ', e.Func, e.Phase, e.Pid, e.Tid, e.Comm, e.Fd, e.Ret, e.Bytes, e.ReqBytes,
            e.Cookie, e.Laddr, e.Lport, e.Raddr, e.Rport, e.DurationNs is null ? "" : "d");
        var liveKeys = live.Events.Select(Key).Order(StringComparer.Ordinal).ToList();
        var readKeys = read.Events.Select(Key).Order(StringComparer.Ordinal).ToList();
        log.WriteLine($"live {live.Events.Count} events, recording {read.Events.Count}");
        Assert.True(liveKeys.Count >= 20 * 8, $"the live trace saw only {liveKeys.Count} events");
        Assert.Equal(liveKeys.Count, readKeys.Count);
        Assert.Equal(live.Events.Sum(e => e.Bytes ?? 0), read.Events.Sum(e => e.Bytes ?? 0));
        Assert.Equal(liveKeys, readKeys);
        // in the file's order, time never goes back
        Assert.True(read.Events.Zip(read.Events.Skip(1)).All(p => p.First.TsNs <= p.Second.TsNs), "timestamps decrease in trace -r");
    }

    [PrivilegedFact]
    public async Task A_damaged_capture_gives_one_error_line_with_the_offset()
    {
        using var tmp = new TempDir("capture-damaged");
        string file = tmp.File("out.pcapng");
        int port = NginxServer.FreeTcpPort();
        await using (TraceRun run = await CaptureRun.StartAsync(log, file, ["--port", I(port)]))
        {
            await RunPythonAsync(Python.Command(Python.PingPong, tmp.File("r.json"), "3", "10", "10", I(port)));
            Expect.Equal(0, (await run.StopAsync()).ExitCode, "capture's exit code");
        }
        byte[] whole = File.ReadAllBytes(file);
        string cut = tmp.File("cut.pcapng"), bad = tmp.File("bad.pcapng");
        File.WriteAllBytes(cut, whole[..^3]); // inside the last block, wherever it starts
        byte[] damaged = (byte[])whole.Clone();
        // the length of the third block (after the section header and the session block)
        int second = BitConverter.ToInt32(whole, 4);
        int third = second + BitConverter.ToInt32(whole, second + 4);
        BitConverter.GetBytes(0x00ffff01).CopyTo(damaged, third + 4);
        File.WriteAllBytes(bad, damaged);

        foreach ((string path, string what) in new[] { (cut, "truncated"), (bad, "not a multiple of 4") })
        {
            await using TraceRun read = await TraceRun.StartAsync(log, ["trace", "-r", path, "-o", "json"], waitForAttach: false, name: "damaged-" + what.Split(' ')[0]);
            TraceResult r = await read.WaitForExitAsync();
            Expect.Equal(65, r.ExitCode, $"exit code for a {what} file\n{r.Describe()}");
            string error = r.StderrLines.Single(l => l.StartsWith("sysstream: reading", StringComparison.Ordinal));
            Assert.Matches(@"^sysstream: reading .*: bad pcapng at offset \d+: .*" + what, error);
            Assert.DoesNotContain(r.StderrLines, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
        }
    }

    [PrivilegedFact]
    public async Task A_command_is_captured_with_its_descendants_only()
    {
        string curl = Tools.Curl;
        _ = Tshark.Path;
        using var tmp = new TempDir("capture-command");
        string file = tmp.File("out.pcapng");
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 5000);
        await using TraceRun run = await CaptureRun.StartAsync(log, file, ["--", curl, "-s", "-o", "/dev/null", nginx.Url]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"capture's exit code (the command's)\n{r.Describe()}");
        log.WriteLine(CaptureRun.Summary(r));
        await Tshark.ReadCleanlyAsync(file);

        List<Frame> packets = await Tshark.FramesAsync(file, $"tcp.port == {nginx.Port}", ["tcp.srcport", "frame.comment"]);
        Assert.True(packets.Count >= 8, $"only {packets.Count} packets of the command");
        foreach (Frame f in packets)
        {
            // each packet once, with curl's end only: nginx is not captured
            PacketEnd end = Assert.Single(f.Ends);
            Assert.Equal("curl", end.Comm);
            Assert.Equal(f.IntField("tcp.srcport") == nginx.Port ? "in" : "out", end.Dir);
        }
        Assert.Empty(await Tshark.FramesAsync(file, $"frame.comment contains \"pid={nginx.WorkerPid} \"", []));
    }

    [PrivilegedFact]
    public async Task Standard_output_streams_live_into_tshark()
    {
        string tshark = Tshark.Path;
        using var tmp = new TempDir("capture-live");
        int port = NginxServer.FreeTcpPort();
        SysstreamExecutable exe = SysstreamExecutable.Default;
        var capturePsi = new System.Diagnostics.ProcessStartInfo(exe.FileName)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (string a in exe.Arguments(["capture", "-w", "-", "--port", I(port)]))
            capturePsi.ArgumentList.Add(a);
        var tsharkPsi = new System.Diagnostics.ProcessStartInfo(tshark)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (string a in new[] { "-l", "-r", "-", "-Y", $"tcp.port == {port}", "-T", "fields", "-e", "frame.number", "-e", "frame.comment" })
            tsharkPsi.ArgumentList.Add(a);

        using var capture = System.Diagnostics.Process.Start(capturePsi)!;
        using var reader = System.Diagnostics.Process.Start(tsharkPsi)!;
        try
        {
            // sysstream's stdout into tshark's stdin: the pipe of `sysstream capture -w - | tshark -r -`
            Task pump = Task.Run(async () =>
            {
                await capture.StandardOutput.BaseStream.CopyToAsync(reader.StandardInput.BaseStream);
                reader.StandardInput.Close();
            });
            var lines = new List<string>();
            Task collect = Task.Run(async () =>
            {
                while (await reader.StandardOutput.ReadLineAsync() is { } line)
                    lock (lines)
                        lines.Add(line);
            });
            Task<string> tsharkErr = reader.StandardError.ReadToEndAsync();
            string? attached = null;
            while (attached is null && await capture.StandardError.ReadLineAsync() is { } l)
                attached = l.StartsWith(TraceRun.AttachedPrefix, StringComparison.Ordinal) ? l : null;
            Assert.NotNull(attached);
            Task<string> captureErr = capture.StandardError.ReadToEndAsync();

            await RunPythonAsync(Python.Command(Python.PingPong, tmp.File("r.json"), "5", "100", "100", I(port)));
            // While sysstream still runs, tshark shows the packets: the stream is flushed as it goes.
            var sw = System.Diagnostics.Stopwatch.StartNew();
            int seen = 0;
            while (sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                lock (lines)
                    seen = lines.Count;
                if (seen >= 13)
                    break;
                await Task.Delay(50);
            }
            Assert.False(capture.HasExited, "sysstream stopped before tshark saw the packets");
            // 5 rounds: 10 data segments, and the 3 of the handshake
            Assert.True(seen >= 13, $"tshark printed {seen} packets while the capture ran (expected at least 13)");
            lock (lines)
                Assert.All(lines, l => Assert.Contains("sysstream: dir=", l));

            Posix.Signal(capture.Id, Posix.SIGTERM);
            await capture.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            await pump;
            await reader.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            await collect;
            log.WriteLine(await captureErr);
            Assert.Equal(0, capture.ExitCode);
            Assert.Equal(0, reader.ExitCode);
            Assert.Equal("", Tshark.Warnings(await tsharkErr));
        }
        finally
        {
            foreach (var p in new[] { capture, reader })
            {
                if (!p.HasExited)
                    p.Kill(entireProcessTree: true);
            }
        }
    }

    [PrivilegedFact]
    public async Task A_cgroup_filter_keeps_its_processes_packets_and_names_the_cgroup()
    {
        string curl = Tools.Curl;
        _ = Tshark.Path;
        using var tmp = new TempDir("capture-cgroup");
        string file = tmp.File("out.pcapng");
        string root = File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')).First(f => f[2] == "cgroup2")[1];
        string name = $"sysstream-test-{Environment.ProcessId}-{Random.Shared.Next(100000)}";
        string cgroup = System.IO.Path.Combine(root, name);
        Directory.CreateDirectory(System.IO.Path.Combine(cgroup, "inner"));
        try
        {
            await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 3000);
            TraceResult r;
            await using (TraceRun run = await CaptureRun.StartAsync(log, file, ["--cgroup", cgroup]))
            {
                // one fetch from inside the cgroup (a child of it), one from outside
                await Workload.RunOkAsync(Tools.Sh, ["-c", $"echo $$ > {cgroup}/inner/cgroup.procs && exec {curl} -s -o /dev/null {nginx.Url}"]);
                await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
                await Task.Delay(300);
                r = await run.StopAsync();
            }
            Expect.Equal(0, r.ExitCode, $"capture's exit code\n{r.Describe()}");
            List<Frame> packets = await Tshark.FramesAsync(file, $"tcp.port == {nginx.Port}", ["tcp.srcport", "tcp.dstport", "frame.comment"]);
            Assert.True(packets.Count >= 8, $"only {packets.Count} packets from the cgroup");
            var clientPorts = packets.Select(f => f.IntField("tcp.srcport") == nginx.Port ? f.IntField("tcp.dstport") : f.IntField("tcp.srcport")).Distinct().ToList();
            Assert.Single(clientPorts); // the fetch from outside is not there
            Assert.All(packets, f => Assert.Equal($"/{name}/inner", Assert.Single(f.Ends).Fields.GetValueOrDefault("cgroup")));
        }
        finally
        {
            Directory.Delete(System.IO.Path.Combine(cgroup, "inner"));
            Directory.Delete(cgroup);
        }
    }

    [PrivilegedFact]
    public async Task Packets_between_two_network_namespaces_show_both_ends_and_their_devices()
    {
        string ip = Tools.Require("ip", "/usr/sbin/ip");
        _ = Tshark.Path;
        using var tmp = new TempDir("capture-netns");
        string file = tmp.File("out.pcapng"), report = tmp.File("report.json");
        string tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100)}";
        string a = $"sscap-a{tag}", b = $"sscap-b{tag}", va = $"sscva{tag}", vb = $"sscvb{tag}";
        int port = NginxServer.FreeTcpPort();
        async Task Ip(params string[] args) => await Workload.RunOkAsync(ip, args);
        try
        {
            await Ip("netns", "add", a);
            await Ip("netns", "add", b);
            await Ip("link", "add", va, "type", "veth", "peer", "name", vb);
            await Ip("link", "set", va, "netns", a);
            await Ip("link", "set", vb, "netns", b);
            await Ip("-n", a, "addr", "add", "10.231.7.1/24", "dev", va);
            await Ip("-n", b, "addr", "add", "10.231.7.2/24", "dev", vb);
            await Ip("-n", a, "link", "set", va, "up");
            await Ip("-n", b, "link", "set", vb, "up");

            const string Server = """
                out, port = sys.argv[1], int(sys.argv[2])
                srv = socket.socket()
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind(("10.231.7.2", port))
                srv.listen(1)
                report(out + ".ready")
                con, _ = srv.accept()
                con.sendall(b"pong " + con.recv(100))
                con.close()
                report(out)
                """;
            const string Client = """
                port = int(sys.argv[1])
                c = socket.create_connection(("10.231.7.2", port))
                c.sendall(b"ping")
                c.recv(100)
                c.close()
                """;
            TraceResult r;
            await using (TraceRun run = await CaptureRun.StartAsync(log, file, ["--port", I(port)]))
            {
                string[] server = Python.Command(Server, report, I(port));
                using System.Diagnostics.Process srv = Workload.Start(ip, ["netns", "exec", b, .. server]);
                await Workload.WaitForFileAsync(report + ".ready", TimeSpan.FromSeconds(20), srv);
                string[] client = Python.Command(Client, I(port));
                await Workload.RunOkAsync(ip, ["netns", "exec", a, .. client]);
                await Workload.WaitAsync(srv, TimeSpan.FromSeconds(20), "server");
                await Task.Delay(300);
                r = await run.StopAsync();
            }
            Expect.Equal(0, r.ExitCode, $"capture's exit code\n{r.Describe()}");
            int serverPid = Python.ReadReport(report).Int("pid");
            await Tshark.ReadCleanlyAsync(file);
            List<Frame> packets = await Tshark.FramesAsync(file, $"tcp.port == {port}", ["tcp.srcport", "frame.interface_name", "frame.comment"]);
            Assert.True(packets.Count >= 8, $"only {packets.Count} packets between the namespaces");
            foreach (Frame f in packets)
            {
                bool fromServer = f.IntField("tcp.srcport") == port;
                PacketEnd? sender = f.Ends.FirstOrDefault(e => e.Dir == "out"), receiver = f.Ends.FirstOrDefault(e => e.Dir == "in");
                Assert.True(sender is { HasProcess: true } && receiver is { HasProcess: true }, $"a packet without both ends: {f}");
                Assert.Equal(fromServer, sender!.Pid == serverPid);
                Assert.Equal(fromServer, receiver!.Pid != serverPid);
                // written on the sender's device, named with its namespace
                Assert.EndsWith("@" + (fromServer ? b : a), f.Field("frame.interface_name"));
            }
        }
        finally
        {
            foreach (string ns in new[] { a, b })
                await Workload.RunAsync(ip, ["netns", "del", ns]);
        }
    }

    private static Task<ProcessOutcome> RunPythonAsync(string[] command) => Workload.RunOkAsync(command[0], command[1..]);

    private static int FreeUdp6Port()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 0));
        return ((System.Net.IPEndPoint)s.LocalEndPoint!).Port;
    }
}
