using System.CommandLine;
using System.Globalization;
using System.Net;
using Sysstream.Graph;
using Sysstream.Web;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>sysstream serve</c>: the live map, top-style tables and live events in the browser. Listens
/// on 127.0.0.1:7070 by default; any other address needs a token, which every request must carry.
/// </summary>
internal static class ServeCommand
{
    public const string DefaultListen = "127.0.0.1:7070";

    public static Command Create()
    {
        var filters = new FilterOptions();
        var listen = new Option<string>("--listen", "-l")
        {
            Description = $"Address and port to serve on (default {DefaultListen}); a non-loopback address requires a token",
            DefaultValueFactory = _ => DefaultListen,
        };
        listen.Validators.Add(r =>
        {
            string? v = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
            if (v is not null && !TryParseListen(v, out _))
                r.AddError($"bad --listen {v}: use ADDRESS:PORT, e.g. 127.0.0.1:7070 or [::1]:7070");
        });
        var token = new Option<string?>("--token") { Description = "Require this token from every request (made and printed when a non-loopback --listen has none)" };
        token.Validators.Add(r =>
        {
            string? v = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
            if (v is not null && (v.Length < 8 || v.Any(c => c <= ' ' || c > '~')))
                r.AddError("bad --token: use at least 8 printable characters, no spaces");
        });
        var interval = Durations.CreateOption("--interval", "How often the map is rebuilt and pushed (default 1s)");
        interval.Aliases.Add("-d");
        var groupBy = MapCommand.GroupByOption();
        var noDns = new Option<bool>("--no-dns") { Description = "Do not look up names of remote addresses" };
        var noEvents = new Option<bool>("--no-events") { Description = "Do not offer the live event stream (/api/events)" };
        var duration = Durations.CreateOption("--duration", "Stop serving after this long");
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };
        var cmd = new Command("serve", "Serve the live dependency map, a top-style table and live events to a browser "
            + "(single page embedded in the executable; JSON API under /api/).");
        filters.AddTo(cmd);
        foreach (Option o in new Option[] { listen, token, interval, groupBy, noDns, noEvents, duration, verbose })
            cmd.Options.Add(o);
        cmd.SetAction((parse, ct) =>
        {
            TryParseListen(parse.GetValue(listen) ?? DefaultListen, out IPEndPoint? endpoint);
            GroupByNames.TryParse(parse.GetValue(groupBy), out GroupBy g);
            var options = new MapOptions
            {
                Filter = filters.Parse(parse),
                Interval = parse.GetValue(interval) ?? TimeSpan.FromSeconds(1),
                ResolveNames = !parse.GetValue(noDns),
                GroupBy = g,
                Verbose = parse.GetValue(verbose),
            };
            return RunAsync(options, endpoint!, parse.GetValue(token), !parse.GetValue(noEvents), parse.GetValue(duration), ct);
        });
        return cmd;
    }

    /// <summary>"127.0.0.1:7070", "[::1]:7070", "localhost:7070", "0.0.0.0:7070", ":7070" (every address).</summary>
    public static bool TryParseListen(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        int colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            return false;
        string host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        IPAddress? address;
        if (host.Length == 0)
            address = IPAddress.Any;
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address))
            return false;
        endpoint = new IPEndPoint(address, port);
        return true;
    }

    private static async Task<int> RunAsync(MapOptions options, IPEndPoint endpoint, string? token, bool events, TimeSpan? duration, CancellationToken ct)
    {
        using var stop = new StopSignal();
        bool generated = false;
        if (!IPAddress.IsLoopback(endpoint.Address) && string.IsNullOrEmpty(token))
        {
            token = Access.NewToken();
            generated = true;
        }
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using MapEngine engine = MapEngine.Start(options);
        await using WebServer web = WebServer.Create(engine, new WebOptions
        {
            Listen = endpoint,
            Token = token,
            Events = events ? new EventStreams() : null,
        });
        await web.StartAsync();
        engine.Tick();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task timer = engine.RunAsync(cts.Token);
        Console.Error.WriteLine($"sysstream: attached {engine.Attached.Count} hooks in {watch.ElapsedMilliseconds} ms; serving {web.Url().Split('?')[0]}");
        if (generated)
            Console.Error.WriteLine($"sysstream: token {token} (required from every request): open {web.Url()}");
        else if (token is not null)
            Console.Error.WriteLine("sysstream: every request must carry the token (Authorization: Bearer TOKEN, or ?token=TOKEN once in the browser)");
        await Task.WhenAny(stop.Signalled, engine.ReaderStopped, Task.Delay(duration ?? Timeout.InfiniteTimeSpan, ct));
        cts.Cancel();
        await timer;
        await web.StopAsync();
        return ExitCodes.Ok;
    }
}
