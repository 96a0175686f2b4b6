using System.CommandLine;
using Stopwatch = System.Diagnostics.Stopwatch;
using Process = System.Diagnostics.Process;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Cli.Commands;

/// <summary><c>sysstream trace</c>: a live stream of network system calls with their OS context.</summary>
internal static class TraceCommand
{
    public static Command Create()
    {
        var filters = new FilterOptions();
        var output = new Option<string>("--output", "-o") { Description = "Output format: table or json", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var noEnter = new Option<bool>("--no-enter") { Description = "Show only returns (with result and duration), not entries" };
        var duration = Durations.CreateOption("--duration", "Stop after this long, e.g. 10s, 500ms, 2m");
        var ringBuffer = new Option<uint>("--ring-buffer-size")
        {
            Description = "Ring buffer size in bytes (power of two, >= 4096)",
            DefaultValueFactory = _ => TraceOptions.DefaultRingBufferBytes,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };
        var statsJson = new Option<string?>("--stats-json") { Description = "At the end, write the run's counters (kernel written/lost, delivered, reader wake-ups, attach time) as JSON to this file" };
        var read = new Option<string?>("--read", "-r") { Description = "Print the system calls stored in a pcapng file of `sysstream capture` ('-': standard input) instead of tracing; no root needed", HelpName = "FILE" };
        var syscalls = new Option<string[]>("--syscall", "-e")
        {
            Description = "Only these system calls (repeatable, or comma-separated), e.g. -e connect,accept4",
            CustomParser = SyscallNames.Parse,
        };
        var cmd = new Command("trace", "Stream every network system call (entry and return) with pid, user, socket and addresses. "
            + "`sysstream trace [options] -- CMD ARGS...` runs CMD and traces it and its descendants only.");
        filters.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.Options.Add(noEnter);
        cmd.Options.Add(duration);
        cmd.Options.Add(ringBuffer);
        cmd.Options.Add(verbose);
        cmd.Options.Add(statsJson);
        cmd.Options.Add(syscalls);
        cmd.Options.Add(read);
        cmd.SetAction((parse, ct) =>
        {
            if (parse.GetValue(read) is { } recording)
                return Task.FromResult(TraceReplay.Run(recording, parse.GetValue(output) == "json", filters.Parse(parse), parse.GetValue(noEnter),
                    SyscallNames.ToFuncs(parse.GetValue(syscalls))));
            var options = new TraceOptions
            {
                Filter = filters.Parse(parse),
                NoEnter = parse.GetValue(noEnter),
                RingBufferBytes = parse.GetValue(ringBuffer),
                Verbose = parse.GetValue(verbose),
                Syscalls = SyscallNames.ToFuncs(parse.GetValue(syscalls)),
                FollowChildren = CommandRunner.Tail.Length > 0,
            };
            return RunAsync(options, parse.GetValue(output) == "json", parse.GetValue(duration), CommandRunner.Tail, parse.GetValue(statsJson), ct);
        });
        return cmd;
    }

    private static async Task<int> RunAsync(TraceOptions options, bool json, TimeSpan? duration, string[] command, string? statsPath, CancellationToken ct)
    {
        using var stop = new StopSignal();
        var clock = EventClock.FromSystem();
        var stopwatch = Stopwatch.StartNew();
        using TraceSession session = TraceSession.Start(options);
        using Stream stdout = StandardOutput.Open();
        IEventSink sink = json ? new JsonEventWriter(stdout, clock) : new TableEventWriter(stdout, clock);
        using var reader = new RingBufferReader(session, sink);
        reader.Start();
        long attachMs = stopwatch.ElapsedMilliseconds;
        Console.Error.WriteLine($"sysstream: attached {session.Attached.Count} hooks ({string.Join(", ", session.Attached)}) in {attachMs} ms; tracing");

        Process? child = command.Length > 0 ? TracedCommand.Start(command, session) : null;
        var waits = new List<Task> { stop.Signalled, reader.Stopped, Task.Delay(duration ?? Timeout.InfiniteTimeSpan, ct) };
        if (child is not null)
            waits.Add(child.WaitForExitAsync(CancellationToken.None));
        await Task.WhenAny(waits);

        reader.RequestStop();
        if (reader.OutputClosed)
            return ExitCodes.Ok; // the consumer of our output is gone: stop quietly, as `| head` expects
        reader.Join();
        PrintSummary(session, reader);
        if (statsPath is not null)
            WriteStats(statsPath, session, reader, attachMs);
        if (child is not null && child.HasExited)
            return child.ExitCode;
        return ExitCodes.Ok;
    }

    /// <summary>The run's counters for tools (the benchmark harness): what the kernel wrote and
    /// dropped, what reached the output, and how often the reader was woken.</summary>
    private static void WriteStats(string path, TraceSession session, RingBufferReader reader, long attachMs)
    {
        Stats[] stats = session.ReadStats();
        ulong written = 0, lost = 0;
        foreach (Stats s in stats)
        {
            written += s.Events;
            lost += s.Lost;
        }
        var text = new System.Text.StringBuilder();
        text.Append(System.FormattableString.Invariant(
            $"{{\"kernel_written\":{written},\"kernel_lost\":{lost},\"delivered\":{reader.Records},\"lost_reported\":{reader.LostReported},"));
        text.Append(System.FormattableString.Invariant(
            $"\"wakeups\":{reader.Wakeups},\"timer_drains\":{reader.TimerDrains},\"late\":{reader.LateRecords},\"malformed\":{reader.Malformed},\"attach_ms\":{attachMs},\"per_cpu\":["));
        for (int cpu = 0; cpu < stats.Length; cpu++)
        {
            long delivered = cpu < reader.PerCpu.Length ? reader.PerCpu[cpu] : 0;
            text.Append(cpu > 0 ? "," : "").Append(System.FormattableString.Invariant(
                $"{{\"cpu\":{cpu},\"written\":{stats[cpu].Events},\"lost\":{stats[cpu].Lost},\"delivered\":{delivered}}}"));
        }
        text.Append("]}\n");
        try
        {
            File.WriteAllText(path, text.ToString());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SysstreamException($"writing {path}: {ex.Message}", ExitCodes.IoError, inner: ex);
        }
    }

    private static void PrintSummary(TraceSession session, RingBufferReader reader)
    {
        Stats[] stats = session.ReadStats();
        ulong lost = 0;
        var perCpu = new List<string>();
        for (int cpu = 0; cpu < stats.Length; cpu++)
        {
            lost += stats[cpu].Lost;
            long delivered = cpu < reader.PerCpu.Length ? reader.PerCpu[cpu] : 0;
            perCpu.Add($"cpu{cpu} {delivered} events, {stats[cpu].Lost} lost");
        }
        Console.Error.WriteLine($"sysstream: {reader.Records} events, {lost} lost ({string.Join("; ", perCpu)})"
            + (reader.LateRecords > 0 ? $", {reader.LateRecords} reordered late" : "")
            + (reader.Malformed > 0 ? $", {reader.Malformed} malformed" : ""));
    }
}
