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
        cmd.Options.Add(syscalls);
        cmd.SetAction((parse, ct) =>
        {
            var options = new TraceOptions
            {
                Filter = filters.Parse(parse),
                NoEnter = parse.GetValue(noEnter),
                RingBufferBytes = parse.GetValue(ringBuffer),
                Verbose = parse.GetValue(verbose),
                Syscalls = SyscallNames.ToFuncs(parse.GetValue(syscalls)),
                FollowChildren = CommandRunner.Tail.Length > 0,
            };
            return RunAsync(options, parse.GetValue(output) == "json", parse.GetValue(duration), CommandRunner.Tail, ct);
        });
        return cmd;
    }

    private static async Task<int> RunAsync(TraceOptions options, bool json, TimeSpan? duration, string[] command, CancellationToken ct)
    {
        using var stop = new StopSignal();
        var clock = EventClock.FromSystem();
        var stopwatch = Stopwatch.StartNew();
        using TraceSession session = TraceSession.Start(options);
        using Stream stdout = StandardOutput.Open();
        IEventSink sink = json ? new JsonEventWriter(stdout, clock) : new TableEventWriter(stdout, clock);
        using var reader = new RingBufferReader(session, sink);
        reader.Start();
        Console.Error.WriteLine($"sysstream: attached {session.Attached.Count} hooks ({string.Join(", ", session.Attached)}) in {stopwatch.ElapsedMilliseconds} ms; tracing");

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
        if (child is not null && child.HasExited)
            return child.ExitCode;
        return ExitCodes.Ok;
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
