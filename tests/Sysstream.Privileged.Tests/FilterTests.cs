using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Filters are applied in the kernel: with a filter, what matches is all there and nothing else
/// is. Each test runs workloads that match and workloads that do not, at the same time.
/// </summary>
public sealed class FilterTests(ITestOutputHelper log)
{
    /// <summary>TCP over 127.0.0.1, UDP over ::1 and UDP over 127.0.0.1, in one process.</summary>
    private const string Mix = """
        out = sys.argv[1]
        srv, cli, con = tcp_pair()
        for i in range(3):
            cli.sendall(b"q" * 10)
            con.recv(10, socket.MSG_WAITALL)
        u6r = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6r.bind(("::1", 0))
        u6s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u4r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4r.bind(("127.0.0.1", 0))
        u4s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(3):
            u6s.sendto(b"six", u6r.getsockname()); u6r.recvfrom(100)
            u4s.sendto(b"four", u4r.getsockname()); u4r.recvfrom(100)
        report(out, tcp_port=srv.getsockname()[1], udp6_port=u6r.getsockname()[1], udp4_port=u4r.getsockname()[1])
        """;

    private async Task<(TraceResult Run, JsonElement Facts)> TraceMixAsync(string[] filter)
    {
        using var tmp = new TempDir("filter");
        string report = tmp.File("mix.json");
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", .. filter, "--", .. Python.Command(Mix, report)]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code\n{r.Describe()}");
        return (r, Python.ReadReport(report));
    }

    [PrivilegedFact]
    public async Task Family_and_protocol_keep_only_udp_over_ipv6()
    {
        (TraceResult r, JsonElement facts) = await TraceMixAsync(["--family", "6", "--proto", "udp"]);
        Expect.True(r.Events.Count > 0, "some events", r.Events);
        Expect.All(r.Events, e => e.Family == "inet6" && e.Proto == "udp", "only inet6/udp events");
        int sends = r.Events.Count(e => e.Is("sendto", "exit") && e.Rport == facts.Int("udp6_port") && e.Bytes == 3);
        Expect.Equal(3, sends, "the three sendto exits to the IPv6 receiver");
    }

    [PrivilegedFact]
    public async Task Port_keeps_only_sockets_with_that_port()
    {
        using var tmp = new TempDir("filter-port");
        // The port is not known before the run: bind a fixed free port by asking the kernel first.
        int port = FreeUdpPort();
        string script = Mix.Replace("u4r.bind((\"127.0.0.1\", 0))", $"u4r.bind((\"127.0.0.1\", {port}))");
        string report = tmp.File("mix.json");
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--port", port.ToString(), "--", .. Python.Command(script, report)]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code\n{r.Describe()}");
        Expect.True(r.Events.Count > 0, "some events", r.Events);
        Expect.All(r.Events, e => e.Lport == port || e.Rport == port, $"only events with port {port}");
        Expect.Equal(3, r.Events.Count(e => e.Is("recvfrom", "exit") && e.Lport == port && e.Bytes == 4), "the receiver's three recvfrom exits");
    }

    [PrivilegedFact]
    public async Task Addr_keeps_only_sockets_with_that_address()
    {
        (TraceResult r, _) = await TraceMixAsync(["--addr", "::1"]);
        Expect.True(r.Events.Count > 0, "some events", r.Events);
        Expect.All(r.Events, e => e.Laddr == "::1" || e.Raddr == "::1", "only events with ::1");
    }

    [PrivilegedFact]
    public async Task Uid_keeps_only_that_users_processes()
    {
        using var tmp = new TempDir("filter-uid");
        File.SetUnixFileMode(tmp.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--uid", "65534"]);
        string asNobody = tmp.File("nobody.json"), asRoot = tmp.File("root.json");
        Task<ProcessOutcome> nobody = Workload.RunOkAsync(Tools.Setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", .. Python.Command(Mix, asNobody)]);
        Task<ProcessOutcome> root = Workload.RunOkAsync(Tools.Python, Python.Command(Mix, asRoot)[1..]);
        await Task.WhenAll(nobody, root);
        TraceResult r = await run.StopAsync();

        int nobodyPid = Python.ReadReport(asNobody).Int("pid"), rootPid = Python.ReadReport(asRoot).Int("pid");
        Expect.True(r.OfPid(nobodyPid).Any(e => e.Is("connect", "exit")), "the nobody workload's connect", r.Events);
        Expect.All(r.Events, e => e.Uid == 65534, "only uid 65534");
        Expect.Equal(0, r.OfPid(rootPid).Count(), "events of the root workload");
    }

    [PrivilegedFact]
    public async Task Cgroup_keeps_only_processes_in_it()
    {
        string root = Sysstream.Filters.TraceFilter.CgroupRoot() ?? throw new Xunit.SkipException("no cgroup2 mount");
        string cg = Path.Combine(root, $"sysstream-test-{Environment.ProcessId}");
        Directory.CreateDirectory(cg);
        try
        {
            using var tmp = new TempDir("filter-cg");
            await using TraceRun run = await TraceRun.StartAsync(log, ["trace", "-o", "json", "--cgroup", cg]);
            string inside = tmp.File("in.json"), outside = tmp.File("out.json");
            string[] py = Python.Command(Mix, inside);
            string quoted = string.Join(' ', py.Select(a => "'" + a.Replace("'", "'\\''") + "'"));
            Task<ProcessOutcome> a = Workload.RunOkAsync(Tools.Sh, ["-c", $"echo $$ > {cg}/cgroup.procs && exec {quoted}"]);
            Task<ProcessOutcome> b = Workload.RunOkAsync(Tools.Python, Python.Command(Mix, outside)[1..]);
            await Task.WhenAll(a, b);
            TraceResult r = await run.StopAsync();

            int inPid = Python.ReadReport(inside).Int("pid"), outPid = Python.ReadReport(outside).Int("pid");
            Expect.True(r.OfPid(inPid).Count(e => e.Is("sendto", "exit")) >= 6, "the inside workload's six UDP sends", r.Events);
            Expect.All(r.Events, e => e.Pid == inPid, "only the process in the cgroup");
            Expect.Equal(0, r.OfPid(outPid).Count(), "events of the process outside");
        }
        finally
        {
            Directory.Delete(cg);
        }
    }

    private static int FreeUdpPort()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)s.LocalEndPoint!).Port;
    }
}
