using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>
/// `sysstream map` with unconnected UDP sockets (sendto/recvfrom with addresses, as DNS clients and
/// UDP servers do): the client's and the server's sockets are joined into one edge from the client
/// (it sent first) to the server, with the exact datagrams and bytes each way.
/// </summary>
public sealed class MapUdpTests(ITestOutputHelper log)
{
    private static readonly int[] Requests = [100, 1200, 33];
    private static readonly int[] Answers = [500, 7, 2000];

    [PrivilegedTheory]
    [InlineData("4")]
    [InlineData("6")]
    public async Task Unconnected_udp_client_and_server_are_one_edge_with_exact_datagrams_and_bytes(string family)
    {
        using var dir = new TempDir("map-udp" + family);
        int serverPid = 0, clientPid = 0;
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["map", "-o", "json", "--duration", "120s", "--group-by", "pid", "--no-dns", "--interval", "300ms"], name: "map-udp" + family);

        string srvReport = dir.File("server.json"), cliReport = dir.File("client.json");
        string[] srv = Python.Command(MapWorkloads.UdpServer, srvReport, family, Join(Answers));
        using Process server = Workload.Start(srv[0], srv[1..]);
        serverPid = server.Id;
        await Workload.WaitForFileAsync(srvReport, TimeSpan.FromSeconds(20), server);
        int port = Python.ReadReport(srvReport).Int("port");
        string[] cli = Python.Command(MapWorkloads.UdpClient, cliReport, family, port.ToString(CultureInfo.InvariantCulture), Join(Requests));
        using Process client = Workload.Start(cli[0], cli[1..]);
        clientPid = client.Id;
        ProcessOutcome c = await Workload.WaitAsync(client, TimeSpan.FromSeconds(30), "python udp client");
        Assert.True(c.ExitCode == 0, c.ToString());
        ProcessOutcome s = await Workload.WaitAsync(server, TimeSpan.FromSeconds(30), "python udp server");
        Assert.True(s.ExitCode == 0, s.ToString());
        Assert.Equal(Answers, Python.ReadReport(cliReport).GetProperty("received").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(Requests, Python.ReadReport(srvReport + ".done").GetProperty("received").EnumerateArray().Select(x => x.GetInt32()));
        // let two ticks read the rows
        await Task.Delay(900);
        TraceResult r = await run.StopAsync();
        Assert.Equal(0, r.ExitCode);
        JsonElement g = MapJson.Last(r);
        log.WriteLine(MapJson.Describe(g));

        JsonElement clientNode = g.NodeWithPid(clientPid), serverNode = g.NodeWithPid(serverPid);
        JsonElement edge = Assert.Single(g.Edges(), e => e.Str("from") == clientNode.Str("id") && e.Str("to") == serverNode.Str("id"));
        Assert.DoesNotContain(g.Edges(), e => e.Str("from") == serverNode.Str("id"));
        Assert.DoesNotContain(g.Edges(), e => e.Str("from") == clientNode.Str("id") && e.Str("to") != serverNode.Str("id"));
        Assert.Equal("udp", edge.Str("proto"));
        Assert.Equal([port.ToString(CultureInfo.InvariantCulture)], edge.GetProperty("ports").EnumerateArray().Select(p => p.GetString()));
        Assert.True(edge.GetProperty("local").GetBoolean(), "both ends are local processes: the edge should be joined");
        Assert.Equal(1, edge.Long("opened"));
        Assert.Equal(Requests.Length, edge.Long("datagrams_to_server"));
        Assert.Equal(Answers.Length, edge.Long("datagrams_to_client"));
        Assert.Equal(Requests.Sum(), edge.Long("bytes_to_server"));
        Assert.Equal(Answers.Sum(), edge.Long("bytes_to_client"));
        JsonElement conn = Assert.Single(edge.GetProperty("connections").EnumerateArray());
        Assert.Equal(clientPid, conn.GetProperty("client_pid").GetInt32());
        Assert.Equal(serverPid, conn.GetProperty("server_pid").GetInt32());
        Assert.NotEqual(0UL, conn.GetProperty("peer_id").GetUInt64());
        string host = family == "6" ? "[::1]" : "127.0.0.1";
        Assert.Equal($"{host}:{port}", conn.Str("server"));
    }

    private static string Join(int[] sizes) => string.Join(',', sizes.Select(x => x.ToString(CultureInfo.InvariantCulture)));
}
