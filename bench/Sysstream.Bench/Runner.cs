using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sysstream.Bench;

/// <summary>Everything measured in one run of one workload under one configuration.</summary>
public sealed class RunResult
{
    public string Workload { get; init; } = "";
    public string Config { get; init; } = "";
    public int Round { get; init; }
    /// <summary>Position in the interleaved sequence of this workload's runs.</summary>
    public int Seq { get; init; }
    public DateTime StartedUtc { get; init; }

    // The workload (measured phase).
    public double Rate { get; set; }
    public long Ops { get; set; }
    public double Seconds { get; set; }
    // The workload over the tracer's whole life (warm-up + measured phase), when it counts itself.
    public long? WorkloadSyscalls { get; set; }
    public long? WorkloadDataCalls { get; set; }

    // The baseline from the neighbouring runs without a tracer; filled in by the report.
    public double? BaselineRate { get; set; }
    public double? Ratio { get; set; }

    // The tracer, measured from outside.
    public string? Error { get; set; }
    public double? AttachMs { get; set; }
    public double? CpuS { get; set; }
    public double? UtimeS { get; set; }
    public double? StimeS { get; set; }
    public long? MaxRssKib { get; set; }
    public double? WallS { get; set; }
    public int? ExitStatus { get; set; }

    // Events: what the tracer's kernel side wrote and dropped (its own per-CPU counters), what
    // reached the output (counted in the output file), and how often the reader was woken.
    public long? Generated { get; set; }
    public long? KernelWritten { get; set; }
    public long? Lost { get; set; }
    public long? Delivered { get; set; }
    public long? ReaderDelivered { get; set; }
    public long? LostRecords { get; set; }
    public long? Wakeups { get; set; }
    public long? TimerDrains { get; set; }
    public long? OutputBytes { get; set; }
    /// <summary>Events the workload's own count says the output must hold for its process name
    /// (2 per system call for trace, 1 per send/recv for bpftrace), and how many it holds.</summary>
    public long? WorkloadEventsExpected { get; set; }
    public long? WorkloadEventsFound { get; set; }

    public double? EventsPerWakeup => Delivered is long d && Wakeups is long w && TimerDrains is long t && w + t > 0
        ? (double)d / (w + t) : null;

    public double? CpuSPerMillionEvents => CpuS is double c && Delivered is long d && d > 0 ? c / (d / 1e6) : null;
}

/// <summary>Runs one workload under one configuration: launch and wait for "attached", warm up,
/// measure, stop, and count what came out.</summary>
public sealed class Runner
{
    private readonly BenchOptions _o;

    public Runner(BenchOptions options) => _o = options;

    public RunResult Run(Workload w, TracerConfig c, int round, int seq)
    {
        var result = new RunResult { Workload = w.Id, Config = c.Id, Round = round, Seq = seq, StartedUtc = DateTime.UtcNow };
        var files = new RunFiles(Path.Combine(_o.WorkDir, $"{w.Id}-{seq:000}-{c.Id}"));
        Directory.CreateDirectory(files.Dir);
        TracerProcess? tracer = null;
        try
        {
            string[]? argv = c.Argv(_o.Exe, _o.Tools, files);
            if (argv is not null)
            {
                var (marker, onStdout) = c.Ready;
                tracer = TracerProcess.Start(Path.Combine(_o.Tools, "ss-bench-exec"), argv, files.Stdout, files.Stderr, marker, onStdout);
                result.AttachMs = tracer.WaitAttached(TimeSpan.FromSeconds(30));
                if (result.AttachMs is null)
                {
                    result.Error = "did not attach: " + Tail(files.Stderr);
                    tracer.Stop(TimeSpan.FromSeconds(10));
                    return result;
                }
            }

            long syscalls = 0, dataCalls = 0;
            bool counted = true;
            if (_o.Warmup > 0)
                Add(w.Run(_o.Warmup));
            WorkloadRun measured = w.Run(_o.Seconds);
            Add(measured);
            result.Rate = measured.Rate;
            result.Ops = measured.Ops;
            result.Seconds = measured.Seconds;
            if (counted)
            {
                result.WorkloadSyscalls = syscalls;
                result.WorkloadDataCalls = dataCalls;
            }

            if (tracer is not null)
            {
                if (tracer.HasExited)
                    result.Error = "exited during the run: " + Tail(files.Stderr);
                ExitInfo? exit = tracer.Stop(TimeSpan.FromSeconds(180));
                if (exit is null)
                {
                    result.Error = "did not stop within 180 s after SIGTERM";
                    return result;
                }
                result.CpuS = exit.CpuS;
                result.UtimeS = exit.UtimeS;
                result.StimeS = exit.StimeS;
                result.MaxRssKib = exit.MaxRssKib;
                result.WallS = exit.WallS;
                result.ExitStatus = exit.Status;
                if (exit.Status != 0)
                    result.Error ??= $"exit status {exit.Status}: " + Tail(files.Stderr);
                Evaluate(w, c, files, result);
            }
            return result;

            void Add(WorkloadRun r)
            {
                if (r.Syscalls is long s && r.DataCalls is long d)
                {
                    syscalls += s;
                    dataCalls += d;
                }
                else
                {
                    counted = false;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or JsonException)
        {
            result.Error = ex.Message;
            tracer?.Stop(TimeSpan.FromSeconds(30));
            return result;
        }
        finally
        {
            tracer?.Dispose();
            if (!_o.KeepFiles)
                Directory.Delete(files.Dir, recursive: true);
        }
    }

    private static void Evaluate(Workload w, TracerConfig c, RunFiles f, RunResult r)
    {
        switch (c.Kind)
        {
            case TracerKind.Trace:
            {
                if (File.Exists(f.Stats))
                {
                    using var doc = JsonDocument.Parse(File.ReadAllText(f.Stats));
                    JsonElement s = doc.RootElement;
                    r.KernelWritten = s.GetProperty("kernel_written").GetInt64();
                    r.Lost = s.GetProperty("kernel_lost").GetInt64();
                    r.ReaderDelivered = s.GetProperty("delivered").GetInt64();
                    r.Wakeups = s.GetProperty("wakeups").GetInt64();
                    r.TimerDrains = s.GetProperty("timer_drains").GetInt64();
                    r.Generated = r.KernelWritten + r.Lost;
                }
                else
                {
                    r.Error ??= "no --stats-json file";
                }
                r.OutputBytes = new FileInfo(f.Stdout).Length;
                if (c.BaseId == "trace-json")
                {
                    string? comm = w.Comm is null ? null : $"\"comm\":\"{w.Comm}\"";
                    var counts = CountLines(f.Stdout, "\"func\":\"lost\"", comm);
                    r.LostRecords = counts.First;
                    r.Delivered = counts.Lines - counts.First;
                    if (comm is not null && r.WorkloadSyscalls is long sc)
                    {
                        r.WorkloadEventsExpected = 2 * sc;
                        r.WorkloadEventsFound = counts.Second;
                    }
                }
                else
                {
                    r.Delivered = r.ReaderDelivered;
                }
                break;
            }
            case TracerKind.Bpftrace:
            {
                // Lines: "Attaching N probes...", the BEGIN marker, one per event, and
                // "Lost N events" when its perf buffers overflowed.
                string? comm = w.Comm is null ? null : $" {w.Comm} ";
                var counts = CountLines(f.Stdout, "Lost ", comm);
                long lost = 0;
                foreach (string line in LinesStartingWith(f.Stdout, "Lost ").Concat(LinesStartingWith(f.Stderr, "Lost ")))
                {
                    string[] parts = line.Split(' ');
                    if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
                        lost += n;
                }
                r.Delivered = counts.Lines - counts.First - 2;
                r.Lost = lost;
                r.Generated = r.Delivered + lost;
                r.OutputBytes = new FileInfo(f.Stdout).Length;
                if (comm is not null && r.WorkloadDataCalls is long dc)
                {
                    r.WorkloadEventsExpected = dc;
                    r.WorkloadEventsFound = counts.Second;
                }
                break;
            }
            default:
                r.OutputBytes = File.Exists(f.Capture) ? new FileInfo(f.Capture).Length : new FileInfo(f.Stdout).Length;
                break;
        }
    }

    /// <summary>Counts the lines of a (large) file, and the lines that contain each of two
    /// patterns, without holding it in memory.</summary>
    internal static (long Lines, long First, long Second) CountLines(string path, string first, string? second)
    {
        byte[] p1 = Encoding.UTF8.GetBytes(first);
        byte[] p2 = second is null ? [] : Encoding.UTF8.GetBytes(second);
        long lines = 0, c1 = 0, c2 = 0;
        byte[] buf = ArrayPool<byte>.Shared.Rent(4 << 20);
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            int carry = 0;
            while (true)
            {
                int n = fs.Read(buf, carry, buf.Length - carry);
                int len = carry + n;
                if (n == 0)
                {
                    if (carry > 0)
                    {
                        // a last line without its newline
                        lines++;
                        ReadOnlySpan<byte> last = buf.AsSpan(0, carry);
                        if (last.IndexOf(p1) >= 0) c1++;
                        if (p2.Length > 0 && last.IndexOf(p2) >= 0) c2++;
                    }
                    break;
                }
                ReadOnlySpan<byte> span = buf.AsSpan(0, len);
                int end = span.LastIndexOf((byte)'\n') + 1;
                ReadOnlySpan<byte> whole = span[..end];
                lines += whole.Count((byte)'\n');
                c1 += CountLinesWith(whole, p1);
                if (p2.Length > 0)
                    c2 += CountLinesWith(whole, p2);
                carry = len - end;
                if (carry == buf.Length)
                    throw new InvalidDataException($"{path}: a line longer than {buf.Length} bytes");
                buf.AsSpan(end, carry).CopyTo(buf);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        return (lines, c1, c2);
    }

    private static long CountLinesWith(ReadOnlySpan<byte> text, ReadOnlySpan<byte> pattern)
    {
        long count = 0;
        while (true)
        {
            int i = text.IndexOf(pattern);
            if (i < 0)
                return count;
            count++;
            int nl = text[i..].IndexOf((byte)'\n');
            if (nl < 0)
                return count;
            text = text[(i + nl + 1)..];
        }
    }

    private static IEnumerable<string> LinesStartingWith(string path, string prefix)
    {
        if (!File.Exists(path) || new FileInfo(path).Length == 0)
            yield break;
        // "Lost" lines are rare and come at the end or between events: scan only line starts.
        using var reader = new StreamReader(path);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                yield return line;
        }
    }

    private static string Tail(string path)
    {
        try
        {
            string text = File.Exists(path) ? File.ReadAllText(path) : "";
            string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return lines.Length == 0 ? "(no output)" : string.Join(" | ", lines.TakeLast(3));
        }
        catch (IOException)
        {
            return "(unreadable)";
        }
    }
}
