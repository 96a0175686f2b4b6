using System.CommandLine;
using Stopwatch = System.Diagnostics.Stopwatch;
using Sysstream.Aggregation;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Proc;
using Sysstream.Top;
using Sysstream.Top.Model;

namespace Sysstream.Cli.Commands;

/// <summary><c>sysstream top</c>: who is using the network right now, per process, connection and remote host.</summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var filters = new FilterOptions();
        var delay = Durations.CreateOption("--delay", "Seconds between updates, e.g. 1s, 500ms (default 1s)");
        delay.Aliases.Add("-d");
        var once = new Option<bool>("--once") { Description = "Print one snapshot after the delay and exit (batch mode)" };
        var iterations = new Option<int?>("--iterations", "-n") { Description = "Print this many snapshots, one per delay, and exit (batch mode)" };
        var output = new Option<string>("--output", "-o") { Description = "Batch output: table or json (one object per snapshot and line)", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var view = new Option<string>("--view") { Description = "View to start with (and to print in text batch mode): processes, connections or hosts", DefaultValueFactory = _ => "processes" };
        view.AcceptOnlyFromAmong("processes", "connections", "hosts");
        var unix = new Option<bool>("--unix") { Description = "Count unix-domain sockets too (default: IPv4 and IPv6)" };
        var cmdline = new Option<bool>("--cmdline", "-a") { Description = "Show command lines instead of process names" };
        var keep = Durations.CreateOption("--keep", "How long exited processes and closed connections stay listed (default 60s)");
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };

        var cmd = new Command("top", "Live per-process, per-connection and per-host network totals and rates, aggregated in the kernel. "
            + "Full screen in a terminal (keys: ? for help); `--once -o json` or `--iterations N` for scripts.");
        filters.AddTo(cmd);
        foreach (Option o in new Option[] { delay, once, iterations, output, view, unix, cmdline, keep, verbose })
            cmd.Options.Add(o);
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(once) && r.GetValue(iterations) is not null)
                r.AddError("--once and --iterations exclude each other (--once is --iterations 1)");
            if (r.GetValue(iterations) is int n && n < 1)
                r.AddError($"bad --iterations {n}: at least 1");
        });
        cmd.SetAction((parse, ct) =>
        {
            var session = new TopOptions
            {
                Filter = filters.Parse(parse),
                IncludeUnix = parse.GetValue(unix),
                Verbose = parse.GetValue(verbose),
            };
            var run = new TopRunOptions
            {
                Delay = parse.GetValue(delay) ?? TimeSpan.FromSeconds(1),
                Iterations = parse.GetValue(once) ? 1 : parse.GetValue(iterations) ?? 0,
                Json = parse.GetValue(output) == "json",
                View = parse.GetValue(view) switch
                {
                    "connections" => TopViewKind.Connections,
                    "hosts" => TopViewKind.Hosts,
                    _ => TopViewKind.Processes,
                },
                CommandLines = parse.GetValue(cmdline),
                FiltersText = FiltersText(parse, filters),
            };
            return RunAsync(session, run, parse.GetValue(keep) ?? TimeSpan.FromSeconds(60));
        });
        return cmd;
    }

    private static async Task<int> RunAsync(TopOptions options, TopRunOptions run, TimeSpan keep)
    {
        bool interactive = !run.Json && run.Iterations == 0 && !Console.IsOutputRedirected && !Console.IsInputRedirected;
        using var stop = new StopSignal();
        var clock = EventClock.FromSystem();
        var stopwatch = Stopwatch.StartNew();
        using TopSession session = TopSession.Start(options);
        var sampler = new TopSampler(session, keep);
        var facts = new ProcFacts(new ProcessTable());
        using Stream stdout = Console.OpenStandardOutput();
        if (interactive)
        {
            await TopApp.RunInteractiveAsync(sampler, facts, run, stdout, stop.Signalled);
            return ExitCodes.Ok;
        }
        Console.Error.WriteLine($"sysstream: attached {session.Attached.Count} hooks ({string.Join(", ", session.Attached)}) in {stopwatch.ElapsedMilliseconds} ms; top, every {run.Delay.TotalSeconds:0.###}s");
        if (options.Verbose && session.LiveCountsProblem is { } noLive)
            Console.Error.WriteLine($"sysstream: TCP bytes are counted in the connection rows: {noLive}");
        try
        {
            await TopApp.RunBatchAsync(sampler, facts, run, stdout, clock, stop.Signalled);
        }
        catch (IOException)
        {
            // the reader of our output went away (EPIPE): nothing left to do
        }
        return ExitCodes.Ok;
    }

    /// <summary>The filters given, as the title line shows them.</summary>
    private static string FiltersText(ParseResult r, FilterOptions f)
    {
        var parts = new List<string>();
        foreach (int p in r.GetValue(f.Pid) ?? [])
            parts.Add($"pid {p}");
        foreach (string c in r.GetValue(f.Comm) ?? [])
            parts.Add($"comm {c}");
        if (r.GetValue(f.Uid) is string u)
            parts.Add($"uid {u}");
        foreach (int p in r.GetValue(f.Port) ?? [])
            parts.Add($"port {p}");
        foreach (string a in r.GetValue(f.Addr) ?? [])
            parts.Add($"addr {a}");
        if (r.GetValue(f.Family) is string fam)
            parts.Add($"family {fam}");
        if (r.GetValue(f.Proto) is string proto)
            parts.Add($"proto {proto}");
        if (r.GetValue(f.Cgroup) is string cg)
            parts.Add($"cgroup {cg}");
        return string.Join(", ", parts);
    }
}
