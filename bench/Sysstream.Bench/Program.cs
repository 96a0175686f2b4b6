using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Sysstream.Bench;

// The workload harness: see bench/README.md (run it through bench/run.sh, which builds what it needs).
var exe = new Option<string>("--exe") { Description = "The published sysstream executable", Required = true };
var tools = new Option<string>("--tools") { Description = "Directory with ss-bench-exec, ss-pingpong, ss-udpflood (built by run.sh)", Required = true };
var rounds = new Option<int>("--rounds") { Description = "Rounds: each configuration runs once per round, between two runs without a tracer", DefaultValueFactory = _ => 5 };
var seconds = new Option<double>("--seconds") { Description = "Measured seconds per run", DefaultValueFactory = _ => 10 };
var warmup = new Option<double>("--warmup") { Description = "Seconds of load before each measured phase (tracer attached)", DefaultValueFactory = _ => 2 };
var workloads = new Option<string[]>("--workload") { Description = "Workloads to run (repeatable): nginx-keepalive, nginx-close, tcp-pingpong, udp-flood; default all", AllowMultipleArgumentsPerToken = true };
var configs = new Option<string[]>("--config") { Description = "Configurations (repeatable): trace-json, trace-nomatch, hooks-floor, top, top-floor, capture, bpftrace; default all available", AllowMultipleArgumentsPerToken = true };
var connections = new Option<int>("--connections") { Description = "wrk connections", DefaultValueFactory = _ => 16 };
var outDir = new Option<string>("--out") { Description = "Where RESULTS.md and results.json go", DefaultValueFactory = _ => "bench" };
var workDir = new Option<string>("--work-dir") { Description = "Scratch directory for the tracers' output (default: a new directory in /dev/shm, so disk speed is not measured)" };
var microbench = new Option<string?>("--microbench") { Description = "BenchmarkDotNet GitHub-flavoured report to include" };
var note = new Option<string?>("--note") { Description = "A line for the report's header (e.g. the machine was shared)" };
var notes = new Option<string?>("--notes") { Description = "A Markdown file to include in the report (bench/analysis.md: where the time goes)" };
var keep = new Option<bool>("--keep-files") { Description = "Keep each run's output files" };
var prefault = new Option<int>("--prefault-gib") { Description = "Write and delete this many GiB in the work directory first: on a virtual machine the first touch of guest memory is slow, and it would land on the first runs", DefaultValueFactory = _ => 4 };
var compare = new Option<string?>("--compare-exe") { Description = "A second sysstream executable (B): each sysstream configuration also runs with it, interleaved, for before/after comparisons" };

var root = new RootCommand("sysstream benchmark harness: throughput with and without tracers on loopback workloads, interleaved")
{
    exe, tools, rounds, seconds, warmup, workloads, configs, connections, outDir, workDir, microbench, note, keep, compare, prefault, notes,
};
root.SetAction(parse =>
{
    string work = parse.GetValue(workDir) ?? Directory.CreateTempSubdirectory("ss-bench-").FullName;
    if (parse.GetValue(workDir) is null && Directory.Exists("/dev/shm"))
        work = Path.Combine("/dev/shm", $"ss-bench-{Environment.ProcessId}");
    Directory.CreateDirectory(work);
    var o = new BenchOptions
    {
        Exe = Path.GetFullPath(parse.GetValue(exe)!),
        Tools = Path.GetFullPath(parse.GetValue(tools)!),
        Rounds = parse.GetValue(rounds),
        Seconds = parse.GetValue(seconds),
        Warmup = parse.GetValue(warmup),
        Connections = parse.GetValue(connections),
        OutDir = Path.GetFullPath(parse.GetValue(outDir)!),
        WorkDir = work,
        Microbench = parse.GetValue(microbench),
        Note = parse.GetValue(note),
        Notes = parse.GetValue(notes),
        KeepFiles = parse.GetValue(keep),
        CompareExe = parse.GetValue(compare) is string b ? Path.GetFullPath(b) : null,
        PrefaultGiB = parse.GetValue(prefault),
    };
    try
    {
        return Bench.Run(o, parse.GetValue(workloads) ?? [], parse.GetValue(configs) ?? []);
    }
    finally
    {
        if (!o.KeepFiles)
            Directory.Delete(work, recursive: true);
    }
});
return root.Parse(args).Invoke();

namespace Sysstream.Bench
{
    public sealed record BenchOptions
    {
        public string Exe { get; init; } = "";
        public string Tools { get; init; } = "";
        public int Rounds { get; init; } = 5;
        public double Seconds { get; init; } = 10;
        public double Warmup { get; init; } = 2;
        public int Connections { get; init; } = 16;
        public string OutDir { get; init; } = "bench";
        public string WorkDir { get; init; } = "";
        public string? Microbench { get; init; }
        public string? Note { get; init; }
        public string? Notes { get; init; }
        public bool KeepFiles { get; init; }
        public string? CompareExe { get; init; }
        public int PrefaultGiB { get; init; } = 4;
    }

    internal static class Bench
    {
        public static int Run(BenchOptions o, string[] workloadIds, string[] configIds)
        {
            if (o.Rounds < 1 || o.Seconds <= 0 || o.Warmup < 0)
            {
                Console.Error.WriteLine("bench: --rounds >= 1, --seconds > 0, --warmup >= 0");
                return 64;
            }
            string[] allWorkloads = ["nginx-keepalive", "nginx-close", "tcp-pingpong", "udp-flood"];
            string[] wanted = workloadIds.Length > 0 ? workloadIds : allWorkloads;
            foreach (string id in wanted.Except(allWorkloads))
            {
                Console.Error.WriteLine($"bench: unknown workload {id} (known: {string.Join(", ", allWorkloads)})");
                return 64;
            }

            // The tracers this build has: `sysstream --help` lists its subcommands.
            string help = Capture(o.Exe, "--help");
            var skipped = new List<string>();
            var chosen = new List<TracerConfig>();
            foreach (TracerConfig c in TracerConfig.All.Where(c => !c.IsBaseline))
            {
                if (configIds.Length > 0 && !configIds.Contains(c.Id))
                    continue;
                if (c.Subcommand is string sub && !HasSubcommand(help, sub))
                {
                    skipped.Add($"{c.Id}: this build of sysstream has no `{sub}` subcommand");
                    continue;
                }
                if (c.Kind == TracerKind.Bpftrace && Capture("bpftrace", "--version").Length == 0)
                {
                    skipped.Add("bpftrace: not installed");
                    continue;
                }
                if (c.Kind == TracerKind.Floor && !File.Exists(Path.Combine(o.Tools, c.FloorObject)))
                {
                    skipped.Add($"{c.Id}: {c.FloorObject} not built (needs clang-14 and libbpf-dev)");
                    continue;
                }
                chosen.Add(c);
                if (o.CompareExe is string b && c.Subcommand is not null)
                    chosen.Add(c.WithExe(b));
            }
            foreach (string id in configIds.Where(id => TracerConfig.All.All(c => c.Id != id)))
            {
                Console.Error.WriteLine($"bench: unknown configuration {id}");
                return 64;
            }
            foreach (string s in skipped)
                Console.Error.WriteLine($"bench: skipping {s}");

            Prefault(o);
            TracerConfig off = TracerConfig.All[0];
            var runner = new Runner(o);
            var results = new List<RunResult>();
            var used = new List<Workload>();
            var started = DateTime.UtcNow;
            int perRound = 2 * chosen.Count + 1;
            Console.Error.WriteLine($"bench: {wanted.Length} workloads x {o.Rounds} rounds x {perRound} runs of {o.Warmup + o.Seconds:0.#} s; work dir {o.WorkDir}");
            foreach (string id in wanted)
            {
                using Workload w = Create(id, o);
                used.Add(w);
                w.Start();
                // Warm up the workload and the tracers once; not recorded.
                Console.Error.WriteLine($"bench: {w.Id}: warm-up");
                runner.Run(w, off, 0, 0);
                if (chosen.Count > 0)
                    runner.Run(w, chosen[0], 0, 0);

                int seq = 1;
                for (int round = 1; round <= o.Rounds; round++)
                {
                    // off, A, off, B, off, ... off: every traced run sits between two untraced ones.
                    results.Add(Report(runner.Run(w, off, round, seq++), w));
                    foreach (TracerConfig c in chosen)
                    {
                        results.Add(Report(runner.Run(w, c, round, seq++), w));
                        results.Add(Report(runner.Run(w, off, round, seq++), w));
                    }
                }
                // After every workload: an interrupted run still leaves what it measured.
                Write(o, used, chosen, skipped, results, started, final: id == wanted[^1]);
            }
            return 0;
        }

        private static void Write(BenchOptions o, List<Workload> used, List<TracerConfig> chosen, List<string> skipped,
            List<RunResult> results, DateTime started, bool final)
        {
            var report = new Report(o, used, chosen, skipped, results, started, DateTime.UtcNow);
            report.Compute();
            Directory.CreateDirectory(o.OutDir);
            File.WriteAllText(Path.Combine(o.OutDir, "RESULTS.md"), report.Markdown());
            File.WriteAllText(Path.Combine(o.OutDir, "results.json"), report.Json());
            Console.Error.WriteLine($"bench: wrote {Path.Combine(o.OutDir, "RESULTS.md")} and results.json ({used.Count} workloads)");
            if (final)
                Console.Out.Write(report.SummaryText());
        }

        /// <summary>Touches the memory the tracers' output files will use, once, so that the host's
        /// first-touch cost of guest memory does not fall on the first measured runs.</summary>
        private static void Prefault(BenchOptions o)
        {
            if (o.PrefaultGiB <= 0)
                return;
            Console.Error.WriteLine($"bench: prefaulting {o.PrefaultGiB} GiB in {o.WorkDir}");
            string path = Path.Combine(o.WorkDir, "prefault");
            var block = new byte[1 << 20];
            Array.Fill(block, (byte)'x');
            using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                for (int i = 0; i < o.PrefaultGiB * 1024; i++)
                    f.Write(block);
            }
            File.Delete(path);
        }

        private static RunResult Report(RunResult r, Workload w)
        {
            string rate = r.Rate.ToString("N0", CultureInfo.InvariantCulture);
            string extra = r.Config == "off" ? "" :
                $" attach {r.AttachMs:0}ms cpu {r.CpuS:0.00}s rss {r.MaxRssKib / 1024.0:0}MiB events {r.Delivered}/{r.Generated} lost {r.Lost}"
                + (r.WorkloadEventsExpected is long e ? $" check {r.WorkloadEventsFound}/{e}" : "");
            Console.Error.WriteLine($"bench: {w.Id} #{r.Seq} round {r.Round} {r.Config}: {rate} {w.Unit}{extra}{(r.Error is null ? "" : " ERROR " + r.Error)}");
            return r;
        }

        private static Workload Create(string id, BenchOptions o) => id switch
        {
            "nginx-keepalive" => new NginxWrkWorkload(keepAlive: true, o.WorkDir, o.Connections),
            "nginx-close" => new NginxWrkWorkload(keepAlive: false, o.WorkDir, o.Connections),
            "tcp-pingpong" => new ToolWorkload("tcp-pingpong", "TCP ping-pong, 1 byte each way, 4 client/server process pairs", "round trips/s",
                Path.Combine(o.Tools, "ss-pingpong"), "ss-pingpong"),
            "udp-flood" => new ToolWorkload("udp-flood", "UDP flood, 1-byte datagrams with sendto() to a recvfrom() loop", "datagrams received/s",
                Path.Combine(o.Tools, "ss-udpflood"), "ss-udpflood"),
            _ => throw new ArgumentException(id),
        };

        private static bool HasSubcommand(string help, string name)
        {
            bool inCommands = false;
            foreach (string line in help.Split('\n'))
            {
                if (line.StartsWith("Commands:", StringComparison.Ordinal))
                {
                    inCommands = true;
                    continue;
                }
                if (inCommands && line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var first, ..] && first == name)
                    return true;
            }
            return false;
        }

        /// <summary>A short command's stdout (empty when it cannot run).</summary>
        internal static string Capture(string file, params string[] args)
        {
            try
            {
                var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (string a in args)
                    psi.ArgumentList.Add(a);
                using var p = Process.Start(psi)!;
                Task<string> err = p.StandardError.ReadToEndAsync();
                string text = p.StandardOutput.ReadToEnd();
                p.WaitForExit(10_000);
                return text.Length > 0 ? text : err.Result;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return "";
            }
        }
    }
}
