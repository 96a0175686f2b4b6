using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// `trace --stats-json FILE`, what the benchmark harness reads: the kernel's written and lost
/// counts, what reached the output, and the reader's wake-ups agree with the stream itself.
/// </summary>
public sealed class StatsJsonTests(ITestOutputHelper log)
{
    [PrivilegedFact]
    public async Task Counters_agree_with_the_output()
    {
        (TraceResult r, JsonElement stats) = await RunAsync(rounds: 2000, ringBufferBytes: null);

        long written = stats.GetProperty("kernel_written").GetInt64();
        long lost = stats.GetProperty("kernel_lost").GetInt64();
        Expect.Equal(0L, lost, $"kernel_lost at a modest load\n{stats}");
        Expect.Equal((long)r.Events.Count, stats.GetProperty("delivered").GetInt64(), "delivered vs JSON records printed");
        Expect.Equal(written, stats.GetProperty("delivered").GetInt64(), "kernel_written vs delivered without loss");
        Expect.Equal(r.SummaryEvents, stats.GetProperty("delivered").GetInt64(), "delivered vs the summary line");
        long drains = stats.GetProperty("wakeups").GetInt64() + stats.GetProperty("timer_drains").GetInt64();
        Expect.True(drains > 0, $"the reader found records at least once\n{stats}");
        Expect.True(stats.GetProperty("attach_ms").GetInt64() >= 0, $"attach_ms\n{stats}");
        long perCpu = stats.GetProperty("per_cpu").EnumerateArray().Sum(c => c.GetProperty("delivered").GetInt64());
        Expect.Equal(written, perCpu, "per-CPU delivered counts add up");
    }

    [PrivilegedFact]
    public async Task Loss_in_the_counters_matches_the_lost_records()
    {
        (TraceResult r, JsonElement stats) = await RunAsync(rounds: 20000, ringBufferBytes: 4096);

        long lost = stats.GetProperty("kernel_lost").GetInt64();
        Expect.True(lost > 0, $"a 4 KiB ring buffer must lose some\n{stats}");
        Expect.Equal(r.SummaryLost, lost, "kernel_lost vs the summary line");
        Expect.Equal(lost, stats.GetProperty("lost_reported").GetInt64(), "every loss is announced in the stream");
        Expect.Equal(lost, r.Lost.Sum(e => e.Count ?? 0), "kernel_lost vs the lost records' counts");
        Expect.Equal(stats.GetProperty("kernel_written").GetInt64(), stats.GetProperty("delivered").GetInt64(),
            "every record the kernel wrote was delivered (the loss happened before writing)");
    }

    private async Task<(TraceResult, JsonElement)> RunAsync(int rounds, int? ringBufferBytes)
    {
        using var tmp = new TempDir("stats");
        string report = tmp.File("report.json");
        string statsPath = tmp.File("stats.json");
        var args = new List<string> { "trace", "-o", "json", "--stats-json", statsPath };
        if (ringBufferBytes is { } size)
            args.AddRange(["--ring-buffer-size", $"{size}"]);
        args.Add("--");
        args.AddRange(Python.Command(Python.PingPong, report, $"{rounds}", "100", "300"));
        await using TraceRun run = await TraceRun.StartAsync(log, args);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Expect.Equal(0, r.ExitCode, $"exit code (the workload's)\n{r.Describe()}");
        Expect.True(File.Exists(statsPath), $"no --stats-json file\n{r.Describe()}");
        string text = await File.ReadAllTextAsync(statsPath);
        log.WriteLine(text);
        return (r, JsonDocument.Parse(text).RootElement.Clone());
    }
}
