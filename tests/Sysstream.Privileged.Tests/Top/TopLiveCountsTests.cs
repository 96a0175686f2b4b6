using System.Globalization;
using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Bpf;
using Sysstream.Filters;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Top;

/// <summary>
/// TCP bytes counted in socket-local storage and read with the BPF iterator, against the same
/// traffic counted in the connection rows alone (the fallback for kernels without sk storage
/// iterators). Both must give the exact bytes and calls while the connection is open and idle
/// (its row lags behind then), after bursts apart by more than the row's catch-up interval, and
/// after it closed (the row takes the final counts).
/// </summary>
public sealed class TopLiveCountsTests(ITestOutputHelper log)
{
    [PrivilegedTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Open_and_closed_connections_have_exact_counts(bool liveCounts)
    {
        using var dir = new TempDir("top-live");
        string report = dir.File("report.json"), go = dir.File("go"), idle = dir.File("idle"), close = dir.File("close"), closed = dir.File("closed");
        string[] script = Python.Command("""
            out, go, idle, close, closed = sys.argv[1:6]
            srv, cli, con = tcp_pair()
            report(out, client_port=cli.getsockname()[1], server_port=srv.getsockname()[1])
            wait_for(go)
            for burst in range(3):
                for i in range(20):
                    assert cli.send(b"q" * 7) == 7
                assert len(con.recv(140, socket.MSG_WAITALL)) == 140
                con.sendall(b"r" * 3000)
                assert len(cli.recv(3000, socket.MSG_WAITALL)) == 3000
                time.sleep(0.15)
            with open(idle, "w") as f:
                f.write("1")
            wait_for(close)
            cli.close()
            con.close()
            with open(closed, "w") as f:
                f.write("1")
            time.sleep(30)
            """, report, go, idle, close, closed);
        using var pair = Workload.Start(script[0], script[1..]);
        try
        {
            await Workload.WaitForFileAsync(report, TimeSpan.FromSeconds(20), pair);
            JsonElement rep = Python.ReadReport(report);
            int cport = rep.Int("client_port"), sport = rep.Int("server_port");

            using TopSession session = TopSession.Start(new TopOptions
            {
                Filter = TraceFilter.Parse(ports: [sport]),
                LiveCounts = liveCounts,
            });
            log.WriteLine($"attached: {string.Join(", ", session.Attached)}");
            // This kernel has sk storage iterators: a fallback here would go unnoticed otherwise.
            Assert.Equal(liveCounts, session.LiveCounts);

            File.WriteAllText(go, "");
            await Workload.WaitForFileAsync(idle, TimeSpan.FromSeconds(20), pair);
            AssertCounts(session, cport, sport, closed: false);

            File.WriteAllText(close, "");
            await Workload.WaitForFileAsync(closed, TimeSpan.FromSeconds(20), pair);
            await Task.Delay(200); // the peer's CLOSE may come from a timer, after close() returned
            AssertCounts(session, cport, sport, closed: true);
        }
        finally
        {
            pair.Kill();
        }
    }

    private void AssertCounts(TopSession session, int cport, int sport, bool closed)
    {
        var conns = new List<ConnectionTotals>();
        session.ReadConnections(conns);
        foreach (ConnectionTotals c in conns)
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{c.LocalPort}->{c.RemotePort} state {c.State} tx {c.TxBytes}/{c.TxCalls} rx {c.RxBytes}/{c.RxCalls} closed {c.Closed}"));
        ConnectionTotals client = Assert.Single(conns, c => c.LocalPort == cport && c.RemotePort == sport);
        ConnectionTotals server = Assert.Single(conns, c => c.LocalPort == sport && c.RemotePort == cport);
        Assert.Equal(420UL, client.TxBytes);
        Assert.Equal(60UL, client.TxCalls);
        Assert.Equal(9000UL, client.RxBytes);
        Assert.Equal(420UL, server.RxBytes);
        Assert.Equal(9000UL, server.TxBytes);
        Assert.Equal(closed, client.Closed);
        Assert.Equal(closed, server.Closed);
        Assert.True(client.LastNs >= client.FirstNs);
    }
}
