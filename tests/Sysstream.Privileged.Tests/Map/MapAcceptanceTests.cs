using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>
/// `sysstream map` with real programs on loopback: each connection is one edge from the client's
/// node to the server's node (both ends joined), with exact byte counts; a connect to a closed
/// port is a failed edge with ECONNREFUSED; the DOT export renders with Graphviz.
/// </summary>
public sealed class MapAcceptanceTests(ITestOutputHelper log)
{
    private static readonly string[] Common = ["--no-dns", "--interval", "300ms"];

    /// <summary>Runs `map -o json` around a workload and returns the map printed at SIGTERM.</summary>
    private async Task<JsonElement> MapAroundAsync(Func<Task> workload, string groupBy = "exe-user", [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        await using TraceRun run = await TraceRun.StartAsync(log, ["map", "-o", "json", "--duration", "120s", "--group-by", groupBy, .. Common], name: name);
        await workload();
        // let two ticks see the ends of the connections
        await Task.Delay(900);
        TraceResult r = await run.StopAsync();
        Assert.Equal(0, r.ExitCode);
        JsonElement g = MapJson.Last(r);
        log.WriteLine(MapJson.Describe(g));
        return g;
    }

    [PrivilegedFact]
    public async Task Curl_to_nginx_is_one_edge_from_curl_to_the_worker_with_the_bytes_nginx_sent()
    {
        string curl = Tools.Curl;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 54_321);
        int curlPid = 0;
        AccessLogEntry? entry = null;
        JsonElement g = await MapAroundAsync(async () =>
        {
            using Process p = Workload.Start(curl, ["-s", "-o", "/dev/null", nginx.Url]);
            curlPid = p.Id;
            ProcessOutcome o = await Workload.WaitAsync(p, TimeSpan.FromSeconds(30), "curl");
            Assert.Equal(0, o.ExitCode);
            entry = (await nginx.WaitForRequestsAsync(1))[0];
        });

        JsonElement client = g.NodeWithPid(curlPid);
        JsonElement server = g.NodeWithPid(nginx.WorkerPid);
        Assert.Equal("process", client.Str("kind"));
        // curl may be gone before /proc is read: then only its name is known
        Assert.Equal("curl", client.Str("comm"));
        Assert.Equal("curl (root)", client.Str("label"));
        Assert.EndsWith("nginx", server.Str("exe"), StringComparison.Ordinal);
        // nginx listens, and the map says so on the node of the processes holding the socket
        Assert.Contains(g.Nodes(), n => n.GetProperty("listening").EnumerateArray().Any(l => l.TryGetProperty("port", out var p) && p.ValueKind == JsonValueKind.Number && p.GetInt32() == nginx.Port));

        var edges = g.Edges().Where(e => e.Str("from") == client.Str("id") && e.Str("to") == server.Str("id")).ToList();
        JsonElement edge = Assert.Single(edges);
        Assert.Equal("tcp", edge.Str("proto"));
        Assert.Contains(nginx.Port.ToString(CultureInfo.InvariantCulture), edge.GetProperty("ports").EnumerateArray().Select(p => p.GetString()));
        Assert.True(edge.GetProperty("local").GetBoolean(), "both ends are local processes: the edge should be joined");
        Assert.Equal(1, edge.Long("opened"));
        Assert.Equal(0, edge.Long("failed"));
        Assert.Equal(entry!.BytesSent, edge.Long("bytes_to_client"));
        Assert.True(edge.Long("bytes_to_server") > 0, "curl's request bytes are missing");
        // no edge the other way, nor to an address instead of the worker
        Assert.DoesNotContain(g.Edges(), e => e.Str("from") == server.Str("id") && e.Str("to") == client.Str("id"));
        Assert.DoesNotContain(g.Edges(), e => e.Str("from") == client.Str("id") && e.Str("to").StartsWith("local:127.0.0.1:" + nginx.Port, StringComparison.Ordinal));
        JsonElement conn = edge.GetProperty("connections").EnumerateArray().First();
        Assert.Equal(curlPid, conn.GetProperty("client_pid").GetInt32());
        Assert.Equal(nginx.WorkerPid, conn.GetProperty("server_pid").GetInt32());
    }

    [PrivilegedFact]
    public async Task Python_client_and_server_are_one_edge_with_exact_bytes_each_way()
    {
        using var dir = new TempDir("map-py");
        const int request = 12_345, response = 98_765;
        int serverPid = 0, clientPid = 0;
        JsonElement g = await MapAroundAsync(async () =>
        {
            string srvReport = dir.File("server.json"), cliReport = dir.File("client.json");
            string[] srv = Python.Command(MapWorkloads.Server, srvReport, "inet", request.ToString(CultureInfo.InvariantCulture), response.ToString(CultureInfo.InvariantCulture));
            using Process server = Workload.Start(srv[0], srv[1..]);
            serverPid = server.Id;
            await Workload.WaitForFileAsync(srvReport, TimeSpan.FromSeconds(20), server);
            int port = Python.ReadReport(srvReport).Int("port");
            string[] cli = Python.Command(MapWorkloads.Client, cliReport, port.ToString(CultureInfo.InvariantCulture),
                request.ToString(CultureInfo.InvariantCulture), response.ToString(CultureInfo.InvariantCulture));
            using Process client = Workload.Start(cli[0], cli[1..]);
            clientPid = client.Id;
            ProcessOutcome c = await Workload.WaitAsync(client, TimeSpan.FromSeconds(30), "python client");
            Assert.True(c.ExitCode == 0, c.ToString());
            Assert.Equal(response, Python.ReadReport(cliReport).Int("received"));
            await Workload.WaitAsync(server, TimeSpan.FromSeconds(30), "python server");
        }, groupBy: "pid");

        JsonElement client = g.NodeWithPid(clientPid), server = g.NodeWithPid(serverPid);
        Assert.NotEqual(client.Str("id"), server.Str("id"));
        JsonElement edge = Assert.Single(g.Edges(), e => e.Str("from") == client.Str("id") && e.Str("to") == server.Str("id"));
        Assert.Equal(1, edge.Long("opened"));
        Assert.Equal(request, edge.Long("bytes_to_server"));
        Assert.Equal(response, edge.Long("bytes_to_client"));
        Assert.DoesNotContain(g.Edges(), e => e.Str("from") == server.Str("id"));
        Assert.Contains("python", client.Str("label"), StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public async Task A_connect_to_a_closed_port_is_a_failed_edge_with_ECONNREFUSED()
    {
        using var dir = new TempDir("map-refused");
        int port = NginxServer.FreeTcpPort();
        int clientPid = 0;
        JsonElement g = await MapAroundAsync(async () =>
        {
            string report = dir.File("refused.json");
            string[] cmd = Python.Command(MapWorkloads.Refused, report, port.ToString(CultureInfo.InvariantCulture));
            using Process p = Workload.Start(cmd[0], cmd[1..]);
            clientPid = p.Id;
            await Workload.WaitAsync(p, TimeSpan.FromSeconds(30), "python connect");
            Assert.Equal("ECONNREFUSED", Python.ReadReport(report).GetProperty("error").GetString());
        });

        JsonElement client = g.NodeWithPid(clientPid);
        JsonElement edge = Assert.Single(g.Edges(), e => e.Str("from") == client.Str("id") && e.Str("to") == $"local:127.0.0.1:{port}");
        Assert.Equal(1, edge.Long("failed"));
        Assert.Equal(1, edge.Long("opened"));
        Assert.Equal(0, edge.Long("open"));
        Assert.Equal(1, edge.GetProperty("errors").GetProperty("ECONNREFUSED").GetInt64());
        JsonElement target = Assert.Single(g.Nodes(), n => n.Str("id") == edge.Str("to"));
        Assert.Equal("local", target.Str("kind"));
        JsonElement conn = edge.GetProperty("connections").EnumerateArray().First();
        Assert.True(conn.GetProperty("failed").GetBoolean());
        Assert.Equal("ECONNREFUSED", conn.Str("error"));
    }

    [PrivilegedFact]
    public async Task Map_once_as_dot_renders_with_graphviz()
    {
        string dot = Tools.Require("dot", "/usr/bin/dot");
        string curl = Tools.Curl;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 1000);
        SysstreamExecutable exe = SysstreamExecutable.Default;
        using Process map = Workload.Start(exe.FileName, exe.Arguments(["map", "--once", "-d", "2s", "-o", "dot", "--no-dns"]));
        Task<string> stdout = map.StandardOutput.ReadToEndAsync();
        Task<string> stderr = map.StandardError.ReadToEndAsync();
        // the first lines come once attached; then make traffic inside the interval
        await Task.Delay(1000);
        await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await map.WaitForExitAsync(cts.Token);
        string text = await stdout;
        log.WriteLine(await stderr);
        log.WriteLine(text);
        Assert.Equal(0, map.ExitCode);
        Assert.StartsWith("digraph sysstream {", text, StringComparison.Ordinal);

        using var dir = new TempDir("map-dot");
        string input = dir.File("map.dot"), png = Path.Combine(AppContext.BaseDirectory, "artifacts", "map-once.png");
        Directory.CreateDirectory(Path.GetDirectoryName(png)!);
        await File.WriteAllTextAsync(input, text);
        ProcessOutcome rendered = await Workload.RunAsync(dot, ["-Tpng", "-o", png, input]);
        Assert.True(rendered.ExitCode == 0, "dot rejected the output: " + rendered);
        byte[] head = File.ReadAllBytes(png).Take(8).ToArray();
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, head);
        Assert.True(new FileInfo(png).Length > 1000, "the PNG is empty");
    }
}
