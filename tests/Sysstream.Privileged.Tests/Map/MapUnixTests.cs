using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>
/// `sysstream map` with a unix stream connection: the client's socket gets its cookie inside
/// connect() (cgroup connect_unix), so its edge carries the bytes each way.
/// </summary>
public sealed class MapUnixTests(ITestOutputHelper log)
{
    [PrivilegedFact]
    public async Task A_unix_connection_is_one_edge_with_the_bytes_each_way()
    {
        using var dir = new TempDir("map-unix");
        const int request = 4321, response = 65_432;
        string path = dir.File("app.sock");
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["map", "-o", "json", "--duration", "120s", "--group-by", "pid", "--no-dns", "--interval", "300ms"]);
        string srvReport = dir.File("server.json"), cliReport = dir.File("client.json");
        string[] srv = Python.Command(MapWorkloads.Server, srvReport, path, request.ToString(CultureInfo.InvariantCulture), response.ToString(CultureInfo.InvariantCulture));
        using Process server = Workload.Start(srv[0], srv[1..]);
        await Workload.WaitForFileAsync(srvReport, TimeSpan.FromSeconds(20), server);
        string[] cli = Python.Command(MapWorkloads.Client, cliReport, path, request.ToString(CultureInfo.InvariantCulture), response.ToString(CultureInfo.InvariantCulture));
        using Process client = Workload.Start(cli[0], cli[1..]);
        ProcessOutcome c = await Workload.WaitAsync(client, TimeSpan.FromSeconds(30), "python unix client");
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.Equal(response, Python.ReadReport(cliReport).Int("received"));
        await Workload.WaitAsync(server, TimeSpan.FromSeconds(30), "python unix server");
        await Task.Delay(900);
        TraceResult r = await run.StopAsync();
        Assert.Equal(0, r.ExitCode);
        Skip.IfNot(r.StderrLines.Any(l => l.Contains("cgroup/connect_unix", StringComparison.Ordinal)),
            "this kernel has no cgroup connect_unix hook (Linux 6.7+)");
        JsonElement g = MapJson.Last(r);
        log.WriteLine(MapJson.Describe(g));

        JsonElement clientNode = g.NodeWithPid(client.Id), serverNode = g.NodeWithPid(server.Id);
        JsonElement edge = Assert.Single(g.Edges(), e => e.Str("from") == clientNode.Str("id") && e.Str("to") == serverNode.Str("id"));
        Assert.Equal("unix", edge.Str("proto"));
        Assert.Equal([path], edge.GetProperty("ports").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(1, edge.Long("opened"));
        Assert.Equal(request, edge.Long("bytes_to_server"));
        Assert.Equal(response, edge.Long("bytes_to_client"));
    }
}
