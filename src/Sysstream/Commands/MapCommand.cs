using System.CommandLine;
using System.Text;
using Sysstream.Graph;
using Sysstream.Map;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>sysstream map</c>: which applications on this host talk to which, right now, and how much.
/// A live terminal view, or snapshots as text, JSON, Graphviz DOT or Mermaid.
/// </summary>
internal static class MapCommand
{
    public static Command Create()
    {
        var filters = new FilterOptions();
        var output = new Option<string?>("--output", "-o") { Description = "Print snapshots instead of the live view: text, json, dot or mermaid" };
        output.AcceptOnlyFromAmong(GraphWriters.Formats);
        var once = new Option<bool>("--once") { Description = "Print one map after one interval (-d) and exit" };
        var duration = Durations.CreateOption("--duration", "Collect this long, print the map and exit, e.g. 10s (SIGTERM ends it early, printing the map so far)");
        var interval = Durations.CreateOption("--interval", "How often the map is rebuilt (default 1s)");
        interval.Aliases.Add("-d");
        var groupBy = GroupByOption();
        var noDns = new Option<bool>("--no-dns") { Description = "Do not look up names of remote addresses" };
        var read = new Option<FileInfo?>("--read", "-r") { Description = "Build the map from a pcapng file written by `sysstream capture` (no root needed)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };
        var cmd = new Command("map", "A live dependency map: applications (grouped processes), remote endpoints and who connects to whom, "
            + "with connections, failures, bytes each way, rates and latency. Local-to-local connections are joined end to end.");
        filters.AddTo(cmd);
        foreach (Option o in new Option[] { output, once, duration, interval, groupBy, noDns, read, verbose })
            cmd.Options.Add(o);
        cmd.SetAction((parse, ct) =>
        {
            GroupByNames.TryParse(parse.GetValue(groupBy), out GroupBy g);
            var options = new MapOptions
            {
                Filter = filters.Parse(parse),
                Interval = parse.GetValue(interval) ?? TimeSpan.FromSeconds(1),
                ResolveNames = !parse.GetValue(noDns),
                GroupBy = g,
                Verbose = parse.GetValue(verbose),
            };
            string? format = parse.GetValue(output);
            FileInfo? file = parse.GetValue(read);
            if (file is not null)
                return Task.FromResult(MapFromCapture.Run(file, options, format ?? "text"));
            return RunAsync(options, format, parse.GetValue(once), parse.GetValue(duration), ct);
        });
        return cmd;
    }

    public static Option<string> GroupByOption()
    {
        var o = new Option<string>("--group-by", "-g")
        {
            Description = "Group processes into nodes by: exe-user (default), pid, comm, exe, cgroup, user",
            DefaultValueFactory = _ => "exe-user",
        };
        o.Validators.Add(r =>
        {
            string? v = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
            if (v is not null && !GroupByNames.TryParse(v, out _))
                r.AddError($"bad --group-by {v}: use one of {string.Join(", ", GroupByNames.All)}");
        });
        return o;
    }

    private static async Task<int> RunAsync(MapOptions options, string? format, bool once, TimeSpan? duration, CancellationToken ct)
    {
        bool interactive = format is null && !once && duration is null && !Console.IsOutputRedirected && !Console.IsInputRedirected;
        format ??= "text";
        using var stop = new StopSignal();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using MapEngine engine = MapEngine.Start(options);
        Console.Error.WriteLine($"sysstream: attached {engine.Attached.Count} hooks ({string.Join(", ", engine.Attached)}) in {watch.ElapsedMilliseconds} ms; mapping");
        if (engine.UdpPeersProblem is { } noPeers)
            Console.Error.WriteLine($"sysstream: unconnected UDP sockets get no edges: {noPeers}");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task timer = engine.RunAsync(cts.Token);

        if (interactive)
        {
            var terminal = new MapTerminal(engine.Project, options.Interval);
            await terminal.RunAsync(options.GroupBy, Task.WhenAny(stop.Signalled, engine.ReaderStopped));
            cts.Cancel();
            await timer;
            return ExitCodes.Ok;
        }

        using Stream stdout = StandardOutput.Open();
        try
        {
            if (once || duration is not null)
            {
                TimeSpan wait = duration ?? options.Interval;
                await Task.WhenAny(stop.Signalled, engine.ReaderStopped, Task.Delay(wait, ct));
                cts.Cancel();
                await timer;
                engine.Tick();
                Write(stdout, engine.Current.Graph, format);
                return ExitCodes.Ok;
            }
            // Continuous: one map per interval until stopped.
            long printed = 0;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Exception? failure = null;
            engine.Updated += state =>
            {
                try
                {
                    if (Interlocked.Exchange(ref printed, state.Sequence) == state.Sequence)
                        return;
                    Write(stdout, state.Graph, format);
                }
                catch (IOException ex)
                {
                    failure = ex;
                    tcs.TrySetResult();
                }
            };
            await Task.WhenAny(stop.Signalled, engine.ReaderStopped, tcs.Task);
            cts.Cancel();
            await timer;
            if (failure is not null && !IsBrokenPipe(failure))
                throw new SysstreamException($"writing output: {failure.Message}", ExitCodes.IoError);
            return ExitCodes.Ok;
        }
        catch (IOException ex) when (IsBrokenPipe(ex))
        {
            return ExitCodes.Ok;
        }
    }

    private static bool IsBrokenPipe(Exception ex) => ex is IOException io && (io.HResult == 32 || io.Message.Contains("Broken pipe", StringComparison.Ordinal));

    internal static void Write(Stream stdout, MapGraph g, string format)
    {
        string text = GraphWriters.Write(g, format);
        if (format == "json")
            text += "\n";
        else if (!text.EndsWith('\n'))
            text += "\n";
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        try
        {
            stdout.Write(bytes);
            stdout.Flush();
        }
        catch (IOException ex) when (!IsBrokenPipe(ex))
        {
            throw new SysstreamException($"writing output: {ex.Message}", ExitCodes.IoError);
        }
    }
}
