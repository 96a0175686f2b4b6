using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Thousands of loopback requests: the output is in timestamp order and complete at this load;
/// with a one-page ring buffer the loss is counted and reported, never silent.
/// </summary>
public sealed class OrderAndLossTests(ITestOutputHelper log)
{
    private const int RequestBytes = 100;
    private const int ResponseBytes = 300;

    [PrivilegedFact]
    public async Task Modest_load_is_complete_and_in_timestamp_order()
    {
        const int rounds = 2500;
        (TraceResult r, JsonElement facts) = await RunAsync(rounds, ringBufferBytes: null);
        int pid = facts.Int("pid"), cliFd = facts.Int("client_fd"), conFd = facts.Int("conn_fd");

        Expect.Equal(0L, r.SummaryLost, $"lost count in the summary\n{r.Describe()}");
        Expect.True(r.Lost.Count == 0, "no lost records are expected at this load", r.Lost);
        Expect.Equal((long)r.Events.Count, r.SummaryEvents, "events in the summary vs JSON records printed");
        CheckNonDecreasing(r);

        // Every call of every round is there, enter and exit, with its exact size.
        var mine = r.OfPid(pid).ToList();
        foreach ((string func, int fd, int size, string end) in new[]
        {
            ("sendto", cliFd, RequestBytes, "client"), ("recvfrom", conFd, RequestBytes, "server"),
            ("sendto", conFd, ResponseBytes, "server"), ("recvfrom", cliFd, ResponseBytes, "client"),
        })
        {
            var exits = mine.Where(e => e.Is(func, "exit") && e.Fd == fd).ToList();
            var enters = mine.Where(e => e.Is(func, "enter") && e.Fd == fd).ToList();
            Expect.Equal(rounds, exits.Count, $"{end} {func} exits on fd {fd}");
            Expect.Equal(rounds, enters.Count, $"{end} {func} enters on fd {fd}");
            Expect.All(exits, e => e.Bytes == size && e.Ret == size, $"every {end} {func} moved {size} bytes");
            Expect.All(enters, e => e.ReqBytes == size, $"every {end} {func} asked for {size} bytes");
        }

        // One thread: its calls alternate enter/exit of the same call, and each exit's duration is
        // the distance from its entry.
        var data = mine.Where(e => e.Func is "sendto" or "recvfrom" && (e.Fd == cliFd || e.Fd == conFd)).ToList();
        Expect.Equal(8 * rounds, data.Count, "data events of the workload");
        for (int i = 0; i + 1 < data.Count; i += 2)
        {
            TraceEvent enter = data[i], exit = data[i + 1];
            Expect.True(enter.IsEnter && exit.IsExit && enter.Func == exit.Func && enter.Fd == exit.Fd,
                "a single-threaded workload's events alternate enter/exit of one call", [enter, exit]);
            Expect.Equal(exit.TsNs - enter.TsNs, exit.DurationNs ?? -1, "exit duration_ns vs the distance between enter and exit ts_ns", exit);
        }
    }

    [PrivilegedFact]
    public async Task Tiny_ring_buffer_reports_lost_events()
    {
        const int rounds = 20000;
        (TraceResult r, JsonElement facts) = await RunAsync(rounds, ringBufferBytes: 4096);
        int pid = facts.Int("pid"), cliFd = facts.Int("client_fd"), conFd = facts.Int("conn_fd");

        Expect.True(r.SummaryLost > 0, $"a 4 KiB ring buffer under {8 * rounds} events must lose some; summary: {r.SummaryLine}\n{r.Describe()}");
        Expect.True(r.Lost.Count > 0, "no {\"func\":\"lost\"} record in the JSON output");
        Expect.All(r.Lost, e => e.Count is > 0 && e.Cpu is >= 0 && e.Ts is not null, "every lost record has a count > 0, a cpu and a ts");
        Expect.Equal(r.SummaryLost, r.Lost.Sum(e => e.Count ?? 0), "sum of the lost records' counts vs the summary's lost count");
        Expect.Equal((long)r.Events.Count, r.SummaryEvents, "events in the summary vs JSON records printed");
        CheckNonDecreasing(r);

        // What was printed plus what was lost accounts for every call the workload made.
        long data = r.OfPid(pid).Count(e => e.Func is "sendto" or "recvfrom" && (e.Fd == cliFd || e.Fd == conFd));
        Expect.True(data < 8L * rounds, $"all {8 * rounds} data events printed despite the loss of {r.SummaryLost}");
        Expect.True(data + r.SummaryLost >= 8L * rounds,
            $"printed data events ({data}) + lost ({r.SummaryLost}) < the workload's {8 * rounds} events: some vanished without being counted");
    }

    private async Task<(TraceResult, JsonElement)> RunAsync(int rounds, int? ringBufferBytes)
    {
        using var tmp = new TempDir("order");
        string report = tmp.File("report.json");
        var args = new List<string> { "trace", "-o", "json" };
        if (ringBufferBytes is { } size)
            args.AddRange(["--ring-buffer-size", $"{size}"]);
        args.Add("--");
        args.AddRange(Python.Command(Python.PingPong, report, $"{rounds}", $"{RequestBytes}", $"{ResponseBytes}"));
        await using TraceRun run = await TraceRun.StartAsync(log, args);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Expect.Equal(0, r.ExitCode, $"exit code (the workload's)\n{r.Describe()}");
        Expect.True(r.SummaryLine is not null, $"no summary line\n{r.Describe()}");
        JsonElement facts = Python.ReadReport(report);
        log.WriteLine($"{r.Events.Count} events, {r.Lost.Count} lost records; {r.SummaryLine}");
        return (r, facts);
    }

    private static void CheckNonDecreasing(TraceResult r)
    {
        for (int i = 1; i < r.All.Count; i++)
        {
            if (r.All[i].TsNs < r.All[i - 1].TsNs)
                Expect.True(false, $"ts_ns decreases at output line {i}", [r.All[i - 1], r.All[i]]);
        }
        Expect.All(r.All, e => e.TsNs > 0, "every record has ts_ns");
    }
}
