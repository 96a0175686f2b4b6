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
    public const int DefaultCaptureSeconds = 60;
    public const long MinCaptureBytes = 1L << 20, MaxCaptureBytes = 1L << 30;

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
        var capture = new Option<bool>("--capture")
        {
            Description = "Also capture packets (as `capture` does, with the same filters) and keep the last --capture-seconds "
                + "in memory, for download as pcapng (/api/capture.pcapng and a button in the page)",
        };
        var captureSeconds = new Option<int>("--capture-seconds")
        {
            Description = $"With --capture: how many seconds of packets are kept (default {DefaultCaptureSeconds}, at most 86400)",
            HelpName = "N",
            DefaultValueFactory = _ => DefaultCaptureSeconds,
        };
        captureSeconds.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v is < 1 or > 86400)
                r.AddError($"bad --capture-seconds {v}: use 1 to 86400");
        });
        var captureBytes = new Option<string>("--capture-max-bytes")
        {
            Description = "With --capture: at most this much memory for the kept packets, oldest dropped first "
                + "(default 64M; K, M, G are powers of 1024; 1M to 1G)",
            HelpName = "BYTES",
            DefaultValueFactory = _ => "64M",
        };
        captureBytes.Validators.Add(r =>
        {
            string? v = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
            if (v is not null && (!TryParseBytes(v, out long n) || n < MinCaptureBytes || n > MaxCaptureBytes))
                r.AddError($"bad --capture-max-bytes {v}: use 1M to 1G, e.g. 64M or 268435456");
        });
        var snaplen = CaptureCommand.SnapLengthOption("With --capture: bytes");
        var cmd = new Command("serve", "Serve the live dependency map, a top-style table and live events to a browser "
            + "(single page embedded in the executable; JSON API under /api/). With --capture, also the last seconds of "
            + "packets as pcapng.");
        filters.AddTo(cmd);
        foreach (Option o in new Option[] { listen, token, interval, groupBy, noDns, noEvents, duration, verbose, capture, captureSeconds, captureBytes, snaplen })
            cmd.Options.Add(o);
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(capture))
                return;
            foreach (Option o in new Option[] { captureSeconds, captureBytes, snaplen })
            {
                if (r.GetResult(o) is { Implicit: false })
                    r.AddError($"{o.Name} needs --capture");
            }
        });
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
            TryParseBytes(parse.GetValue(captureBytes) ?? "64M", out long maxBytes);
            CaptureSettings? captureSettings = parse.GetValue(capture) ? new CaptureSettings(
                TimeSpan.FromSeconds(parse.GetValue(captureSeconds)), maxBytes, CaptureCommand.SnapLength(parse.GetValue(snaplen))) : null;
            return RunAsync(options, endpoint!, parse.GetValue(token), !parse.GetValue(noEvents), captureSettings, parse.GetValue(duration), ct);
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

    /// <summary>"64M", "512K", "1G" (powers of 1024), or a plain number of bytes.</summary>
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        string t = text.Trim();
        int shift = t.Length == 0 ? 0 : char.ToUpperInvariant(t[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        if (shift > 0)
            t = t[..^1];
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue >> shift)
            return false;
        bytes = n << shift;
        return true;
    }

    private sealed record CaptureSettings(TimeSpan Window, long MaxBytes, uint SnapLength);

    private static async Task<int> RunAsync(MapOptions options, IPEndPoint endpoint, string? token, bool events, CaptureSettings? captureSettings,
        TimeSpan? duration, CancellationToken ct)
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
        using ServeCapture? capture = captureSettings is null ? null
            : ServeCapture.Start(options.Filter, captureSettings.SnapLength, captureSettings.Window, captureSettings.MaxBytes, options.Verbose);
        await using WebServer web = WebServer.Create(engine, new WebOptions
        {
            Listen = endpoint,
            Token = token,
            Events = events ? new EventStreams() : null,
            Capture = capture,
        });
        await web.StartAsync();
        capture?.LeaveOut(web.Bound);
        engine.Tick();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task timer = engine.RunAsync(cts.Token);
        int hooks = engine.Attached.Count + (capture?.Attached.Count ?? 0);
        string captureNote = capture is null ? "" : $"; keeping the last {capture.Window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s of packets "
            + $"(at most {capture.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes, snap length {capture.SnapLength.ToString(CultureInfo.InvariantCulture)}) for /api/capture.pcapng";
        Console.Error.WriteLine($"sysstream: attached {hooks} hooks in {watch.ElapsedMilliseconds} ms; serving {web.Url().Split('?')[0]}{captureNote}");
        if (generated)
            Console.Error.WriteLine($"sysstream: token {token} (required from every request): open {web.Url()}");
        else if (token is not null)
            Console.Error.WriteLine("sysstream: every request must carry the token (Authorization: Bearer TOKEN, or ?token=TOKEN once in the browser)");
        await Task.WhenAny(stop.Signalled, engine.ReaderStopped, capture?.Ended ?? Task.Delay(Timeout.Infinite, ct),
            Task.Delay(duration ?? Timeout.InfiniteTimeSpan, ct));
        cts.Cancel();
        await timer;
        await web.StopAsync();
        // Reports a failure of the capture's reader, if that is what ended the run.
        capture?.Stop();
        return ExitCodes.Ok;
    }
}
