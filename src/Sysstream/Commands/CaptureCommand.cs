using System.CommandLine;
using System.Globalization;
using Stopwatch = System.Diagnostics.Stopwatch;
using Process = System.Diagnostics.Process;
using Sysstream.Bpf;
using Sysstream.Capture;
using Sysstream.Filters;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>sysstream capture</c>: a pcapng file of the IP packets of local sockets, each with the
/// process behind each end, and the system calls of <c>trace</c> in the same file.
/// </summary>
internal static class CaptureCommand
{
    /// <summary>After a command run with <c>--</c> exits, its connections' last packets (FIN,
    /// ACK) still come: keep capturing this long.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(200);

    public static Command Create()
    {
        var filters = new FilterOptions();
        var write = new Option<string>("--write", "-w")
        {
            Description = "Write the pcapng file here ('-': standard output, e.g. `| tshark -r -`)",
            HelpName = "FILE|-",
            Required = true,
        };
        var snaplen = SnapLengthOption();
        var noSyscalls = new Option<bool>("--no-syscalls") { Description = "Packets only: do not store the system calls of the captured processes" };
        var duration = Durations.CreateOption("--duration", "Stop after this long, e.g. 10s, 500ms, 2m");
        var ringBuffer = new Option<uint>("--ring-buffer-size")
        {
            Description = "Size of each kernel ring buffer in bytes (power of two, >= 65536)",
            DefaultValueFactory = _ => TraceOptions.DefaultRingBufferBytes,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };
        var cmd = new Command("capture", "Capture the IP packets of local sockets into a pcapng file for Wireshark, with the process "
            + "(pid, comm, command line, user, cgroup, fd, system call) behind each end in every packet, and the system calls "
            + "of `trace` in the same file. `sysstream capture -w FILE [options] -- CMD ARGS...` runs CMD and captures it "
            + "and its descendants only.");
        cmd.Options.Add(write);
        cmd.Options.Add(snaplen);
        filters.AddTo(cmd);
        cmd.Options.Add(noSyscalls);
        cmd.Options.Add(duration);
        cmd.Options.Add(ringBuffer);
        cmd.Options.Add(verbose);
        cmd.SetAction((parse, ct) =>
        {
            uint snap = parse.GetValue(snaplen);
            var settings = new Settings
            {
                Path = parse.GetValue(write)!,
                Filter = filters.Parse(parse),
                SnapLength = SnapLength(snap),
                Syscalls = !parse.GetValue(noSyscalls),
                Duration = parse.GetValue(duration),
                RingBufferBytes = parse.GetValue(ringBuffer),
                Verbose = parse.GetValue(verbose),
                Command = CommandRunner.Tail,
            };
            return RunAsync(settings, ct);
        });
        return cmd;
    }

    /// <summary>-s/--snaplen, shared with <c>serve --capture</c>: 0 is the default, the maximum.</summary>
    public static Option<uint> SnapLengthOption(string what = "Bytes")
    {
        var o = new Option<uint>("--snaplen", "-s")
        {
            Description = $"{what} kept of each packet (1-{CaptureSession.MaxSnapLength}; 0: the default, {CaptureSession.MaxSnapLength})",
            HelpName = "BYTES",
            DefaultValueFactory = _ => CaptureSession.MaxSnapLength,
        };
        o.Validators.Add(r =>
        {
            uint v = r.GetValueOrDefault<uint>();
            if (v > CaptureSession.MaxSnapLength)
                r.AddError($"bad --snaplen {v}: at most {CaptureSession.MaxSnapLength}");
        });
        return o;
    }

    /// <summary>The snap length an -s value asks for (0: the maximum).</summary>
    public static uint SnapLength(uint value) => value == 0 ? CaptureSession.MaxSnapLength : value;

    private sealed record Settings
    {
        public required string Path { get; init; }
        public required TraceFilter Filter { get; init; }
        public uint SnapLength { get; init; }
        public bool Syscalls { get; init; }
        public TimeSpan? Duration { get; init; }
        public uint RingBufferBytes { get; init; }
        public bool Verbose { get; init; }
        public string[] Command { get; init; } = [];
        public bool ToStdout => Path == "-";
        public string Shown => ToStdout ? "standard output" : Path;
    }

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        if (s.ToStdout && !Console.IsOutputRedirected)
            throw new SysstreamException("refusing to write a binary pcapng file to a terminal", ExitCodes.Usage,
                "pipe it (sysstream capture -w - | tshark -r -) or name a file with -w");

        using var stop = new StopSignal();
        var stopwatch = Stopwatch.StartNew();
        bool follow = s.Command.Length > 0;

        CapturePipeline pipeline;
        try
        {
            pipeline = CapturePipeline.Start(new CapturePipelineOptions
            {
                Filter = s.Filter,
                FollowChildren = follow,
                SnapLength = s.SnapLength,
                Syscalls = s.Syscalls,
                RingBufferBytes = s.RingBufferBytes,
                Verbose = s.Verbose,
                Arguments = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
                Version = Version,
            }, () => OpenOutput(s));
        }
        catch (IOException ex)
        {
            throw WriteFailed(s, ex);
        }
        using (pipeline)
        {
            CaptureSession capture = pipeline.Capture;
            TraceSession? trace = pipeline.Trace;
            string snapNote = capture.SnapLength < s.SnapLength ? $", snap length lowered to {capture.SnapLength} to fit the ring buffer" : "";
            string groups = $"packets: {string.Join(", ", capture.Attached)}" + (trace is null ? "" : $"; system calls: {string.Join(", ", trace.Attached)}");
            Console.Error.WriteLine($"sysstream: attached {pipeline.Attached.Count} hooks ({groups}) in {stopwatch.ElapsedMilliseconds} ms; "
                + $"capturing to {s.Shown} (packet hooks on cgroup {capture.CgroupRoot}{snapNote})");

            Process? child = null;
            if (follow)
                child = TracedCommand.Start(s.Command, pipeline.AddPid);
            var waits = new List<Task> { stop.Signalled, Task.Delay(s.Duration ?? Timeout.InfiniteTimeSpan, ct), pipeline.Ended };
            Task? childExit = child?.WaitForExitAsync(CancellationToken.None);
            if (childExit is not null)
                waits.Add(childExit);
            Task first = await Task.WhenAny(waits);
            if (first == childExit)
                await Task.WhenAny(Task.Delay(Linger, CancellationToken.None), stop.Signalled);

            try
            {
                pipeline.Stop();
            }
            catch (SysstreamException ex) when (ex.InnerException is IOException io)
            {
                // The consumer of standard output is gone (`| head`, tshark quit): stop quietly.
                if (s.ToStdout && IsBrokenPipe(io))
                    return ExitCodes.Ok;
                throw WriteFailed(s, io);
            }
            PrintSummary(s, pipeline);
            if (child is not null && child.HasExited)
                return child.ExitCode;
            return ExitCodes.Ok;
        }
    }

    /// <summary>The version written into a capture's session block.</summary>
    public static string Version => typeof(CaptureCommand).Assembly.GetName().Version?.ToString(3) ?? "";

    private static Stream OpenOutput(Settings s)
    {
        // Not Console.OpenStandardOutput(): it ignores EPIPE, and a capture whose reader went away
        // (`| head`, tshark quitting) must stop, not write into nothing.
        if (s.ToStdout)
            return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 64 * 1024);
        try
        {
            return new FileStream(s.Path, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SysstreamException($"opening {s.Path} for writing: {ex.Message}", ExitCodes.IoError);
        }
    }

    private static bool IsBrokenPipe(IOException io) =>
        io.HResult == 32 || io.Message.Contains("Broken pipe", StringComparison.Ordinal);

    private static SysstreamException WriteFailed(Settings s, IOException ex) =>
        new($"writing {s.Shown}: {ex.Message}", ExitCodes.IoError);

    private static void PrintSummary(Settings s, CapturePipeline pipeline)
    {
        CaptureCounters c = pipeline.Counters;
        (ulong lostPackets, ulong lostSyscalls) = pipeline.KernelLosses();
        string I(long n) => n.ToString(CultureInfo.InvariantCulture);
        Console.Error.WriteLine($"sysstream: {I(c.Packets)} packets ({I(c.PacketsWithProcess)} with a process, {I(c.PacketsWithoutProcess)} without; "
            + $"{I(c.LocalMerged)} local deliveries joined to their sending), "
            + (pipeline.Trace is null ? "no system calls" : $"{I(c.Syscalls)} system calls")
            + $", {lostPackets} packets and {lostSyscalls} system calls lost; "
            + $"{I(pipeline.Writer.Blocks)} blocks, {I(pipeline.Writer.Position)} bytes to {s.Shown}"
            + (c.Malformed > 0 ? $", {I(c.Malformed)} malformed records" : ""));
    }
}
