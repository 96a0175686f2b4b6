using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sysstream.Bench;

/// <summary>Figures of one configuration on one workload, over all rounds.</summary>
public sealed class Summary
{
    public string Workload { get; init; } = "";
    public string Config { get; init; } = "";
    public int Runs { get; set; }
    public int Failed { get; set; }
    public double? RatioMedian { get; set; }
    public double? RatioMin { get; set; }
    public double? RatioMax { get; set; }
    public double? RateMedian { get; set; }
    public double? RateMin { get; set; }
    public double? RateMax { get; set; }
    public double? BaselineMedian { get; set; }
    public long? Generated { get; set; }
    public long? Delivered { get; set; }
    public long? Lost { get; set; }
    public double? CpuSMedian { get; set; }
    public double? CpuSPerMillionMedian { get; set; }
    public double? PeakRssMiB { get; set; }
    public double? EventsPerWakeupMedian { get; set; }
    public double? AttachMsMedian { get; set; }
    public double? AttachMsMax { get; set; }
    public long? WorkloadEventsExpected { get; set; }
    public long? WorkloadEventsFound { get; set; }
}

/// <summary>One floor of issue 6, checked on nginx + wrk keep-alive.</summary>
public sealed record TargetCheck(string Target, string Floor, string Measured, bool? Met, string Verdict);

/// <summary>Baselines, medians and the two outputs: bench/RESULTS.md and bench/results.json.</summary>
public sealed class Report
{
    private readonly BenchOptions _o;
    private readonly IReadOnlyList<Workload> _workloads;
    private readonly IReadOnlyList<TracerConfig> _configs;
    private readonly IReadOnlyList<string> _skipped;
    private readonly List<RunResult> _runs;
    private readonly DateTime _started, _finished;
    private readonly List<Summary> _summaries = new();
    private readonly List<TargetCheck> _targets = new();
    private readonly Dictionary<string, string> _machine = new();

    public Report(BenchOptions o, IReadOnlyList<Workload> workloads, IReadOnlyList<TracerConfig> configs,
        IReadOnlyList<string> skipped, List<RunResult> runs, DateTime started, DateTime finished)
    {
        _o = o;
        _workloads = workloads;
        _configs = configs;
        _skipped = skipped;
        _runs = runs;
        _started = started;
        _finished = finished;
    }

    public void Compute()
    {
        // The baseline of a traced run: the mean of the untraced runs just before and after it.
        foreach (var group in _runs.GroupBy(r => r.Workload))
        {
            var bySeq = group.ToDictionary(r => r.Seq);
            foreach (RunResult r in group.Where(r => r.Config != "off"))
            {
                var neighbours = new[] { r.Seq - 1, r.Seq + 1 }
                    .Select(s => bySeq.GetValueOrDefault(s))
                    .Where(n => n is { Config: "off", Error: null } && n.Rate > 0)
                    .Select(n => n!.Rate)
                    .ToList();
                if (neighbours.Count > 0 && r.Error is null && r.Rate > 0)
                {
                    r.BaselineRate = neighbours.Average();
                    r.Ratio = r.Rate / r.BaselineRate;
                }
            }
        }

        foreach (Workload w in _workloads)
        {
            foreach (TracerConfig c in TracerConfig.All.Where(c => c.IsBaseline).Concat(_configs))
            {
                var all = _runs.Where(r => r.Workload == w.Id && r.Config == c.Id).ToList();
                var ok = all.Where(r => r.Error is null).ToList();
                var s = new Summary { Workload = w.Id, Config = c.Id, Runs = all.Count, Failed = all.Count - ok.Count };
                (s.RateMedian, s.RateMin, s.RateMax) = Spread(ok.Select(r => (double?)r.Rate));
                if (!c.IsBaseline)
                {
                    (s.RatioMedian, s.RatioMin, s.RatioMax) = Spread(ok.Select(r => r.Ratio));
                    s.BaselineMedian = Median(ok.Select(r => r.BaselineRate));
                    s.Generated = Sum(ok.Select(r => r.Generated));
                    s.Delivered = Sum(ok.Select(r => r.Delivered));
                    s.Lost = Sum(ok.Select(r => r.Lost));
                    s.CpuSMedian = Median(ok.Select(r => r.CpuS));
                    s.CpuSPerMillionMedian = Median(ok.Select(r => r.CpuSPerMillionEvents));
                    s.PeakRssMiB = ok.Select(r => r.MaxRssKib).Where(v => v is not null).Select(v => v!.Value / 1024.0).DefaultIfEmpty().Max() is double m && m > 0 ? m : null;
                    s.EventsPerWakeupMedian = Median(ok.Select(r => r.EventsPerWakeup));
                    s.AttachMsMedian = Median(ok.Select(r => r.AttachMs));
                    s.AttachMsMax = ok.Select(r => r.AttachMs).Where(v => v is not null).DefaultIfEmpty().Max();
                    s.WorkloadEventsExpected = Sum(ok.Select(r => r.WorkloadEventsExpected));
                    s.WorkloadEventsFound = Sum(ok.Select(r => r.WorkloadEventsFound));
                }
                _summaries.Add(s);
            }
        }
        CheckTargets();
        ReadMachine();
    }

    private Summary? Find(string workload, string config) =>
        _summaries.FirstOrDefault(s => s.Workload == workload && s.Config == config && s.Runs > s.Failed);

    private void CheckTargets()
    {
        const string W = "nginx-keepalive";
        Summary? json = Find(W, "trace-json"), none = Find(W, "trace-nomatch"), top = Find(W, "top"),
            cap = Find(W, "capture"), bt = Find(W, "bpftrace");

        void Ratio(string what, Summary? s, double floor, bool zeroLost = false)
        {
            if (s?.RatioMedian is not double r)
            {
                _targets.Add(new TargetCheck(what, $">= {floor:0.00}", "not measured", null, "not measured"));
                return;
            }
            bool lostOk = !zeroLost || s.Lost == 0;
            string measured = $"{r:0.000}" + (zeroLost ? $", {s.Lost} lost" : "");
            bool met = r >= floor && lostOk;
            _targets.Add(new TargetCheck(what, $">= {floor:0.00}" + (zeroLost ? ", 0 lost" : ""), measured, met,
                met ? "met" : $"missed by {Math.Max(0, floor - r):0.000}{(lostOk ? "" : $", {s.Lost} lost")}"));
        }

        Ratio("`trace -o json` throughput ratio", json, 0.90, zeroLost: true);
        if (json?.RatioMedian is double jr)
            _targets.Add(new TargetCheck("`trace -o json` stretch", ">= 0.95", $"{jr:0.000}", jr >= 0.95, jr >= 0.95 ? "met" : $"missed by {0.95 - jr:0.000}"));
        Ratio("`trace` with a filter matching nothing", none, 0.97);
        Ratio("`top`", top, 0.97);
        Ratio("`capture -s 64`", cap, 0.90);
        if (json?.CpuSPerMillionMedian is double cpu)
            _targets.Add(new TargetCheck("CPU per million JSON events", "<= 0.50 s", $"{cpu:0.000} s", cpu <= 0.5, cpu <= 0.5 ? "met" : $"missed by {cpu - 0.5:0.000} s"));
        else
            _targets.Add(new TargetCheck("CPU per million JSON events", "<= 0.50 s", "not measured", null, "not measured"));
        if (json?.PeakRssMiB is double rss)
            _targets.Add(new TargetCheck("peak RSS of `trace -o json`", "<= 64 MiB", $"{rss:0.0} MiB", rss <= 64, rss <= 64 ? "met" : $"missed by {rss - 64:0.0} MiB"));
        double? attach = _summaries.Where(s => s.Config is "trace-json" or "trace-nomatch" && s.AttachMsMax is not null)
            .Select(s => s.AttachMsMax).DefaultIfEmpty().Max();
        if (attach is double a)
            _targets.Add(new TargetCheck("launch to \"attached\" (`trace`, worst run)", "<= 500 ms", $"{a:0} ms", a <= 500, a <= 500 ? "met" : $"missed by {a - 500:0} ms"));
        if (_o.Microbench is string mb && File.Exists(mb))
        {
            // BenchmarkDotNet's tables (one per benchmark class, each with its own columns): "-" or
            // "0 B" in the Allocated column of every decode row.
            int col = -1, rows = 0;
            bool zero = true;
            foreach (string line in File.ReadAllLines(mb))
            {
                if (line.StartsWith("| Method", StringComparison.Ordinal))
                {
                    col = Array.FindIndex(line.Split('|'), h => h.Trim() == "Allocated");
                    continue;
                }
                if (!line.StartsWith('|') || !line.Contains("Decode", StringComparison.Ordinal) || col <= 0)
                    continue;
                string[] c = line.Split('|');
                rows++;
                zero &= c.Length > col && c[col].Trim().Trim('*') is "-" or "0 B";
            }
            if (rows > 0)
                _targets.Add(new TargetCheck("allocated per decoded event (BenchmarkDotNet)", "0 B", zero ? "0 B" : "more than 0 B", zero, zero ? "met" : "missed"));
        }
        if (json?.RatioMedian is double j && bt?.RatioMedian is double b && b > 0)
        {
            double x = j / b;
            _targets.Add(new TargetCheck("`trace -o json` ratio / bpftrace ratio", ">= 3x", $"{x:0.00}x ({j:0.000} / {b:0.000})", x >= 3, x >= 3 ? "met" : $"missed by {3 - x:0.00}x"));
        }
    }

    private void ReadMachine()
    {
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        string mem = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is string m
            ? $"{long.Parse(m.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 / 1024.0:0.0} GiB" : "?";
        string os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') ?? "?"
            : "?";
        _machine["cpu"] = cpu;
        _machine["cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        _machine["memory"] = mem;
        _machine["kernel"] = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        _machine["os"] = os;
        _machine["sysstream"] = Bench.Capture(_o.Exe, "--version").Trim();
        _machine["bpftrace"] = Bench.Capture("bpftrace", "--version").Trim();
        _machine["nginx"] = Bench.Capture("nginx", "-v").Trim().Replace("nginx version: ", "");
        _machine["wrk"] = Bench.Capture("wrk", "-v").Split('\n')[0].Trim();
    }

    // ------------------------------------------------------------------ Markdown

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine("# sysstream benchmark results");
        md.AppendLine();
        md.AppendLine($"Produced by `bench/run.sh` on {_started:yyyy-MM-dd HH:mm} UTC ({(_finished - _started).TotalMinutes:0} min).");
        if (_o.Note is not null)
            md.AppendLine().AppendLine($"> {_o.Note}");
        md.AppendLine();
        md.AppendLine("| machine | |");
        md.AppendLine("|---|---|");
        foreach (var (k, v) in _machine)
            md.AppendLine($"| {k} | {Cell(v)} |");
        md.AppendLine();
        md.AppendLine($"Each workload ran {_o.Rounds} rounds; in a round every configuration ran once, each between two runs " +
            $"without a tracer (off, A, off, B, off ...). A run: start the tracer and wait for its \"attached\" line, " +
            $"{_o.Warmup:0.#} s of load to warm up, {_o.Seconds:0.#} s measured, stop it with SIGTERM (it drains and exits). " +
            "The throughput ratio of a run is its rate over the mean of the two untraced runs beside it; tables give the " +
            "median over the rounds and the range (min-max).");
        md.AppendLine();

        md.AppendLine("## Targets (issue 6, on nginx + wrk keep-alive)");
        md.AppendLine();
        md.AppendLine("| target | floor | measured | verdict |");
        md.AppendLine("|---|---|---|---|");
        foreach (TargetCheck t in _targets)
            md.AppendLine($"| {t.Target} | {t.Floor} | {t.Measured} | {(t.Met == true ? "met" : t.Met == false ? "**" + t.Verdict + "**" : t.Verdict)} |");
        md.AppendLine();

        md.AppendLine("## Results");
        foreach (Workload w in _workloads)
        {
            Summary? off = _summaries.FirstOrDefault(s => s.Workload == w.Id && s.Config == "off");
            md.AppendLine();
            md.AppendLine($"### {w.Id}: {w.Title}");
            md.AppendLine();
            md.AppendLine($"`{w.Command}`. Untraced: {Num(off?.RateMedian)} {w.Unit} (median; {Num(off?.RateMin)}-{Num(off?.RateMax)}).");
            md.AppendLine();
            md.AppendLine("| configuration | throughput ratio | traced " + w.Unit + " | events delivered / generated | lost | CPU s per M events | CPU s per run | peak RSS MiB | events per wake-up | launch to attached ms |" +
                (w.Comm is null ? "" : " workload check |"));
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|" + (w.Comm is null ? "" : "---|"));
            foreach (TracerConfig c in _configs)
            {
                Summary? s = _summaries.FirstOrDefault(x => x.Workload == w.Id && x.Config == c.Id);
                if (s is null)
                    continue;
                string ratio = s.RatioMedian is double r ? $"**{r:0.000}** ({s.RatioMin:0.000}-{s.RatioMax:0.000})" : "-";
                string events = s.Delivered is long d ? $"{d:N0} / {(s.Generated is long g ? g.ToString("N0", CultureInfo.InvariantCulture) : "-")}" : "-";
                string check = w.Comm is null ? "" :
                    (s.WorkloadEventsExpected is long e && e > 0 ? $" {s.WorkloadEventsFound:N0} / {e:N0}{(s.WorkloadEventsFound == e ? " (exact)" : "")} |" : " - |");
                md.AppendLine($"| {c.Label} | {ratio} | {Num(s.RateMedian)} | {events} | {(s.Lost is long l ? l.ToString("N0", CultureInfo.InvariantCulture) : "-")} | " +
                    $"{Fixed(s.CpuSPerMillionMedian, "0.000")} | {Fixed(s.CpuSMedian, "0.00")} | {Fixed(s.PeakRssMiB, "0.0")} | {Fixed(s.EventsPerWakeupMedian, "0")} | " +
                    $"{Fixed(s.AttachMsMedian, "0")}{(s.AttachMsMax is double am ? $" (max {am:0})" : "")} |{check}" +
                    (s.Failed > 0 ? $" {s.Failed} of {s.Runs} runs failed" : ""));
            }
        }
        md.AppendLine();

        md.AppendLine("## What the columns mean");
        md.AppendLine();
        md.AppendLine("- **events**: for `trace`, one per system call entry and one per return (`-o json`: lines in the output " +
            "file, lost-records excluded; filter matching nothing: records the reader got). *Generated* is what the kernel side " +
            "counted in its per-CPU counters: written to the ring buffer plus dropped because it was full. For bpftrace, one line " +
            "per send/recv plus the `Lost N events` it reports.");
        md.AppendLine("- **workload check** (ping-pong, UDP flood, which count their own system calls exactly): events in the " +
            "output whose `comm` is the workload's, against 2 per traced system call (bpftrace: 1 per send/recv).");
        md.AppendLine("- **CPU s**: utime+stime of the tracer process (all threads, /proc/PID/stat read at its exit, drain included); " +
            "per M events divides by the events delivered. **peak RSS**: the kernel's high-water mark (VmHWM) at exit.");
        md.AppendLine("- **events per wake-up**: events over the times the reader found records (woken by the kernel once enough " +
            "bytes were pending, or on its poll timer).");
        md.AppendLine("- **launch to attached**: from fork to the line that says so (sysstream's stderr line; bpftrace's BEGIN probe).");
        md.AppendLine("- Tracer output goes to " + (_o.WorkDir.StartsWith("/dev/shm", StringComparison.Ordinal) ? "tmpfs (/dev/shm), so disk speed is not measured" : _o.WorkDir) + "; it is deleted after each run.");
        md.AppendLine();

        md.AppendLine("## Commands");
        md.AppendLine();
        foreach (TracerConfig c in _configs)
            md.AppendLine($"- {c.Id}: `{c.CommandText}`");
        foreach (Workload w in _workloads)
            md.AppendLine($"- {w.Id}: `{w.Command}`");
        md.AppendLine();

        if (_skipped.Count > 0)
        {
            md.AppendLine("Not measured: " + string.Join("; ", _skipped) + ".");
            md.AppendLine();
        }
        var failed = _runs.Where(r => r.Error is not null).ToList();
        if (failed.Count > 0)
        {
            md.AppendLine("Failed runs:");
            md.AppendLine();
            foreach (RunResult r in failed)
                md.AppendLine($"- {r.Workload} #{r.Seq} {r.Config}: {Cell(r.Error!)}");
            md.AppendLine();
        }

        if (_o.Notes is string notes && File.Exists(notes))
        {
            md.AppendLine(File.ReadAllText(notes).Trim());
            md.AppendLine();
        }
        if (_o.Microbench is string mb && File.Exists(mb))
        {
            md.AppendLine("## Decode and output path (BenchmarkDotNet, per event)");
            md.AppendLine();
            md.AppendLine(File.ReadAllText(mb).Trim());
            md.AppendLine();
        }
        md.AppendLine("Raw figures of every run: `bench/results.json`.");
        return md.ToString();
    }

    /// <summary>A few lines for the terminal.</summary>
    public string SummaryText()
    {
        var sb = new StringBuilder();
        foreach (Summary s in _summaries.Where(s => s.Config != "off"))
            sb.AppendLine(CultureInfo.InvariantCulture, $"{s.Workload,-16} {s.Config,-14} ratio {Fixed(s.RatioMedian, "0.000")} ({Fixed(s.RatioMin, "0.000")}-{Fixed(s.RatioMax, "0.000")}) lost {s.Lost} cpu/M {Fixed(s.CpuSPerMillionMedian, "0.000")} rss {Fixed(s.PeakRssMiB, "0")} MiB");
        foreach (TargetCheck t in _targets)
            sb.AppendLine($"target: {t.Target}: {t.Measured} ({t.Verdict})");
        return sb.ToString();
    }

    // ------------------------------------------------------------------ JSON

    public string Json()
    {
        var doc = new
        {
            started_utc = _started,
            finished_utc = _finished,
            note = _o.Note,
            machine = _machine,
            options = new { rounds = _o.Rounds, seconds = _o.Seconds, warmup = _o.Warmup, connections = _o.Connections },
            configurations = _configs.Select(c => new { id = c.Id, label = c.Label, command = c.CommandText }),
            workloads = _workloads.Select(w => new { id = w.Id, title = w.Title, unit = w.Unit, command = w.Command }),
            skipped = _skipped,
            targets = _targets,
            summary = _summaries,
            runs = _runs,
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }) + "\n";
    }

    // ------------------------------------------------------------------ helpers

    private static (double?, double?, double?) Spread(IEnumerable<double?> values)
    {
        var v = values.Where(x => x is not null).Select(x => x!.Value).ToList();
        return v.Count == 0 ? (null, null, null) : (Median(v.Select(x => (double?)x)), v.Min(), v.Max());
    }

    internal static double? Median(IEnumerable<double?> values)
    {
        var v = values.Where(x => x is not null).Select(x => x!.Value).OrderBy(x => x).ToList();
        if (v.Count == 0)
            return null;
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private static long? Sum(IEnumerable<long?> values)
    {
        var v = values.Where(x => x is not null).ToList();
        return v.Count == 0 ? null : v.Sum(x => x!.Value);
    }

    private static string Num(double? v) => v is double d ? d.ToString("N0", CultureInfo.InvariantCulture) : "-";

    private static string Fixed(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
