using System.CommandLine;
using System.Text;
using Sysstream.Capture;
using Sysstream.Cli.Commands;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Output;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary><c>trace -r</c>: a recording prints exactly what the live trace printed.</summary>
public class CaptureReplayTests
{
    private static readonly ulong T0 = TestEvents.T0;

    private static List<(SyscallEvent Ev, UnixPaths Paths, bool Unix)> Events()
    {
        var socket = TestEvents.Event(Func.Socket, Phase.Exit, ts: T0, ret: 3);
        TestEvents.Socket(ref socket, Sock.AF_INET, 1, 6);
        var connect = TestEvents.Event(Func.Connect, Phase.Exit, ts: T0 + 1000, ret: -115);
        TestEvents.Socket(ref connect, Sock.AF_INET, 1, 6, "127.0.0.1", 40000, "127.0.0.1", 80, cookie: 77, state: 2);
        var send = TestEvents.Event(Func.Sendto, Phase.Exit, ts: T0 + 2000, ret: 78);
        send.ReqBytes = 78;
        TestEvents.Socket(ref send, Sock.AF_INET, 1, 6, "127.0.0.1", 40000, "127.0.0.1", 80, cookie: 77, state: 1);
        var unix = TestEvents.Event(Func.Connect, Phase.Enter, ts: T0 + 3000, comm: "python3");
        unix.Type = (ushort)EventType.SyscallUnix;
        TestEvents.Socket(ref unix, Sock.AF_UNIX, 1, 0);
        return
        [
            (socket, default, false),
            (connect, default, false),
            (send, default, false),
            (unix, TestEvents.Paths(null, "/run/x.sock"), true),
        ];
    }

    private static byte[] Recording()
    {
        var h = new Harness();
        foreach (var (ev, paths, isUnix) in Events())
        {
            if (isUnix)
                h.Recorder.OnRecord(0, Bytes(new SyscallEventUnix { Ev = ev, Paths = paths }));
            else
                h.Syscall(ev);
        }
        h.Recorder.OnRecord(0, Bytes(TestEvents.Lost(T0 + 4000, 1, 5)));
        h.Packet(Packet(T0 + 1500, true, 77, Tcp4("127.0.0.1", 40000, "127.0.0.1", 80, 0x02, 1, 0), Owner(18423, "wget")));
        return h.Finish();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_recording_prints_what_the_live_sinks_printed(bool json)
    {
        // What the live trace would have printed, with the same clock.
        var live = new MemoryStream();
        IEventSink direct = json ? new JsonEventWriter(live, TestEvents.Clock()) : new TableEventWriter(live, TestEvents.Clock());
        foreach (var (ev, paths, isUnix) in Events())
            direct.OnSyscall(in ev, in paths, isUnix);
        LostEvent lost = TestEvents.Lost(T0 + 4000, 1, 5);
        direct.OnLost(in lost);
        direct.Flush();

        var replayed = new MemoryStream();
        ReplayResult r = CaptureReplay.Replay(new MemoryStream(Recording()),
            clock => json ? new JsonEventWriter(replayed, clock) : new TableEventWriter(replayed, clock));

        Assert.Equal(Encoding.UTF8.GetString(live.ToArray()), Encoding.UTF8.GetString(replayed.ToArray()));
        Assert.Equal(4, r.Syscalls);
        Assert.Equal(1, r.Packets);
        Assert.Equal(5, r.LostSyscalls);
        Assert.True(r.HasSession);
    }

    [Fact]
    public void The_filters_of_trace_apply_to_a_recording()
    {
        var seen = new List<Func>();
        var sink = new CollectingSink(seen);
        CaptureReplay.Replay(new MemoryStream(Recording()), _ => sink,
            new RecordingFilter(TraceFilter.Parse(ports: [80]), noEnter: true));
        Assert.Equal([Func.Connect, Func.Sendto], seen);

        seen.Clear();
        CaptureReplay.Replay(new MemoryStream(Recording()), _ => sink, new RecordingFilter(TraceFilter.Parse(comms: ["python3"]), noEnter: false));
        Assert.Equal([Func.Connect], seen);

        seen.Clear();
        CaptureReplay.Replay(new MemoryStream(Recording()), _ => sink, new RecordingFilter(new TraceFilter(), false, [Func.Sendto, Func.Socket]));
        Assert.Equal([Func.Socket, Func.Sendto], seen);

        Assert.Equal(ExitCodes.Usage, Assert.Throws<SysstreamException>(() =>
            new RecordingFilter(new TraceFilter { CgroupPath = "/sys/fs/cgroup/x" }, false)).ExitCode);
    }

    private sealed class CollectingSink(List<Func> seen) : IEventSink
    {
        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths) => seen.Add(ev.FuncKind);
        public void OnLost(in LostEvent lost) { }
        public void Flush() { }
    }

    // ------------------------------------------------------------------ the command

    private static RootCommand Root() => new("test") { TraceCommand.Create(), CaptureCommand.Create() };

    private static (int Code, string[] Lines) Run(params string[] args)
    {
        var err = new StringWriter();
        var savedErr = Console.Error;
        int code;
        try
        {
            // the summary line goes to Console.Error, errors to the runner's writer: collect both
            Console.SetError(err);
            code = CommandRunner.RunAsync(Root(), args, err).GetAwaiter().GetResult();
        }
        finally
        {
            Console.SetError(savedErr);
        }
        return (code, err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void A_corrupt_recording_is_one_error_line_with_the_offset_and_exit_65()
    {
        byte[] file = Recording();
        string path = Path.Combine(Path.GetTempPath(), $"sysstream-replay-{Guid.NewGuid():n}.pcapng");
        try
        {
            File.WriteAllBytes(path, file[..(file.Length - 10)]);
            (int code, string[] lines) = Run("trace", "-r", path, "-o", "json");
            Assert.Equal(ExitCodes.DataError, code);
            Assert.Matches(@"^sysstream: reading .*: bad pcapng at offset \d+: truncated", lines[0]);
            Assert.StartsWith("hint: ", lines[1]);
            Assert.Equal(2, lines.Length);

            File.WriteAllBytes(path, "not a capture at all"u8.ToArray());
            (code, lines) = Run("trace", "-r", path);
            Assert.Equal(ExitCodes.DataError, code);
            Assert.Contains("bad pcapng at offset 0: not a pcapng file", lines[0]);

            File.WriteAllBytes(path, file);
            (code, lines) = Run("trace", "-r", path, "-o", "json");
            Assert.Equal(ExitCodes.Ok, code);
            Assert.Equal("sysstream: 4 events, 5 lost (read from " + path + ": 4 system calls, 1 packets)", Assert.Single(lines));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_missing_recording_is_exit_66()
    {
        (int code, string[] lines) = Run("trace", "-r", "/nonexistent/x.pcapng");
        Assert.Equal(ExitCodes.NoInput, code);
        Assert.Equal("sysstream: reading /nonexistent/x.pcapng: no such file", lines[0]);
    }

    [Theory]
    [InlineData("capture")]
    [InlineData("capture", "-w", "x.pcapng", "--snaplen", "300000")]
    [InlineData("capture", "-w", "x.pcapng", "--port", "0")]
    [InlineData("capture", "-w", "x.pcapng", "--bogus")]
    public void Capture_usage_errors_are_one_line_and_exit_64(params string[] args)
    {
        (int code, string[] lines) = Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("sysstream: ", lines[0]);
        Assert.True(lines.Length <= 2, string.Join("\n", lines));
    }
}
