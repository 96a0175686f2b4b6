using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sysstream.Aggregation;
using Sysstream.Filters;
using Sysstream.Graph;

namespace Sysstream.Web;

/// <summary>How <c>sysstream serve</c> listens.</summary>
public sealed record WebOptions
{
    public required IPEndPoint Listen { get; init; }
    /// <summary>Required from every request when set (always set for non-loopback addresses).</summary>
    public string? Token { get; init; }
    /// <summary>Live system-call events for the browser (null: not offered).</summary>
    public EventStreams? Events { get; init; }
    /// <summary>The last seconds of packets as pcapng (null: capture is off).</summary>
    public ICaptureSource? Capture { get; init; }
}

/// <summary>
/// The HTTP side of <c>sysstream serve</c>: Kestrel with minimal APIs. The single-page UI is
/// embedded in this assembly; the map is pushed to it with server-sent events on every tick.
/// </summary>
/// <remarks>
/// Routes (all GET): <c>/</c> the UI; <c>/api/info</c>; <c>/api/graph</c> (<c>?group-by=</c>,
/// <c>?format=json|dot|mermaid</c>, <c>?download=1</c>); <c>/api/graph/stream</c> (SSE,
/// event <c>graph</c>); <c>/api/processes</c>; <c>/api/connections</c>; <c>/api/events</c> (SSE of
/// trace's JSON lines, filters as query parameters); <c>/api/capture.pcapng</c> (<c>?seconds=</c>;
/// 404 when capture is off).
/// </remarks>
public sealed class WebServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IMapSource _source;
    private readonly WebOptions _options;
    private readonly Access _access;
    private readonly CancellationTokenSource _stopping = new();
    private static readonly Dictionary<string, (byte[] Bytes, string Type)> s_assets = LoadAssets();

    /// <summary>The address really bound (the port, when 0 was asked for).</summary>
    public IPEndPoint Bound { get; private set; }

    public bool TokenRequired => _access.TokenRequired;

    private WebServer(WebApplication app, IMapSource source, WebOptions options, Access access)
    {
        _app = app;
        _source = source;
        _options = options;
        _access = access;
        Bound = options.Listen;
    }

    public static WebServer Create(IMapSource source, WebOptions options)
    {
        if (!IPAddress.IsLoopback(options.Listen.Address) && string.IsNullOrEmpty(options.Token))
            throw new SysstreamException($"listening on {options.Listen} (not loopback) needs a token", ExitCodes.Usage, "pass --token, or let serve make one");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(options.Listen);
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        var app = builder.Build();
        var access = new Access(options.Token, [Host(options.Listen.Address)]);
        var server = new WebServer(app, source, options, access);
        server.Map();
        return server;
    }

    private static string Host(IPAddress a) => a.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + a + "]" : a.ToString();

    /// <summary>Binds and starts serving. A taken or unavailable address is one line, exit 69.</summary>
    public async Task StartAsync()
    {
        try
        {
            await _app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (FindBindFailure(ex) is { } reason)
        {
            throw new SysstreamException($"listening on {_options.Listen}: {reason}", ExitCodes.Unavailable,
                reason.StartsWith("address already", StringComparison.Ordinal)
                    ? $"another program uses port {_options.Listen.Port} (see `ss -ltnp 'sport = :{_options.Listen.Port}'`); pick another with --listen"
                    : "use an address of this host with --listen");
        }
        var addresses = _app.Urls;
        foreach (string url in addresses)
        {
            if (Uri.TryCreate(url, UriKind.Absolute, out Uri? u))
                Bound = new IPEndPoint(_options.Listen.Address, u.Port);
        }
    }

    private static string? FindBindFailure(Exception? top)
    {
        for (Exception? ex = top; ex is not null; ex = ex.InnerException)
        {
            if (ex is AddressInUseException)
                return "address already in use (EADDRINUSE)";
            if (ex is SocketException se)
            {
                return se.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => "address already in use (EADDRINUSE)",
                    SocketError.AddressNotAvailable => "address not available on this host (EADDRNOTAVAIL)",
                    SocketError.AccessDenied => "permission denied (EACCES)",
                    _ => se.Message,
                };
            }
        }
        for (Exception? ex = top; ex is not null; ex = ex.InnerException)
        {
            if (ex is IOException io && io.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
                return io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase)
                    ? "address already in use (EADDRINUSE)" : io.Message;
        }
        return null;
    }

    public Task StopAsync() => _app.StopAsync();

    /// <summary>The URL to open, with the token when one is needed.</summary>
    public string Url(string? hostOverride = null)
    {
        string host = hostOverride ?? (Bound.Address.Equals(IPAddress.Any) || Bound.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : Host(Bound.Address));
        string url = $"http://{host}:{Bound.Port.ToString(CultureInfo.InvariantCulture)}/";
        return _access.TokenRequired ? url + "?token=" + Uri.EscapeDataString(_options.Token!) : url;
    }

    // ------------------------------------------------------------------ routes

    private void Map()
    {
        _app.Use(async (ctx, next) =>
        {
            if (!_access.Check(ctx))
                return;
            var h = ctx.Response.Headers;
            h.XContentTypeOptions = "nosniff";
            h["Referrer-Policy"] = "no-referrer";
            h.XFrameOptions = "DENY";
            h.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
            await next(ctx);
        });

        _app.MapGet("/", (HttpContext ctx) => Asset(ctx, "index.html"));
        _app.MapGet("/assets/{name}", (HttpContext ctx, string name) => Asset(ctx, name));
        _app.MapGet("/favicon.ico", (HttpContext ctx) => Asset(ctx, "favicon.svg"));

        _app.MapGet("/api/info", () => Results.Json(new ApiInfo
        {
            Version = typeof(WebServer).Assembly.GetName().Version?.ToString(3) ?? "0",
            Hooks = _source.Attached,
            IntervalS = _source.Options.Interval.TotalSeconds,
            GroupBy = _source.Options.GroupBy.Name(),
            GroupByChoices = GroupByNames.All,
            TokenRequired = _access.TokenRequired,
            EventsAvailable = _options.Events is not null,
            Filters = DescribeFilter(_source.Options.Filter),
            CaptureAvailable = _options.Capture is not null,
            Capture = _options.Capture?.Describe(),
        }, ApiJsonContext.Default.ApiInfo));

        _app.MapGet("/api/graph", (HttpContext ctx) =>
        {
            if (!TryGroup(ctx, out GroupBy g))
                return BadRequest("bad group-by: use one of " + string.Join(", ", GroupByNames.All));
            string format = ctx.Request.Query["format"].ToString();
            if (format.Length == 0)
                format = "json";
            if (format is not ("json" or "dot" or "mermaid" or "text"))
                return BadRequest("bad format: use json, dot, mermaid or text");
            MapGraph graph = _source.Project(g);
            if (ctx.Request.Query["download"] == "1")
            {
                string ext = format switch { "dot" => "dot", "mermaid" => "mmd", "text" => "txt", _ => "json" };
                ctx.Response.Headers.ContentDisposition = $"attachment; filename=\"sysstream-map.{ext}\"";
            }
            return format == "json"
                ? Results.Bytes(GraphWriters.JsonUtf8(graph), "application/json")
                : Results.Text(GraphWriters.Write(graph, format), format switch
                {
                    "dot" => "text/vnd.graphviz; charset=utf-8",
                    _ => "text/plain; charset=utf-8",
                });
        });

        _app.MapGet("/api/graph/stream", StreamGraphAsync);

        _app.MapGet("/api/processes", () =>
        {
            TopFrame f = _source.Current.Frame;
            return Results.Json(new ApiList<ApiProcess>
            {
                Time = _source.Current.Graph.Time,
                IntervalS = Math.Round(f.IntervalSeconds, 3),
                Rows = f.Processes.OrderByDescending(p => p.TxRate + p.RxRate).ThenByDescending(p => p.Totals.TxBytes + p.Totals.RxBytes)
                    .Select(ApiProcess.From).ToList(),
            }, ApiJsonContext.Default.ApiListApiProcess);
        });

        _app.MapGet("/api/connections", () =>
        {
            TopFrame f = _source.Current.Frame;
            return Results.Json(new ApiList<ApiConnection>
            {
                Time = _source.Current.Graph.Time,
                IntervalS = Math.Round(f.IntervalSeconds, 3),
                Rows = f.Connections.OrderByDescending(c => c.TxRate + c.RxRate).ThenByDescending(c => c.Totals.TxBytes + c.Totals.RxBytes)
                    .Select(ApiConnection.From).ToList(),
            }, ApiJsonContext.Default.ApiListApiConnection);
        });

        _app.MapGet("/api/events", StreamEventsAsync);

        _app.MapGet("/api/capture.pcapng", (HttpContext ctx) => DownloadCapture(ctx));
    }

    /// <summary>The pcapng of the last <c>?seconds=N</c> (default: everything kept).</summary>
    private IResult DownloadCapture(HttpContext ctx)
    {
        ICaptureSource? capture = _options.Capture;
        if (capture is null)
            return Error(StatusCodes.Status404NotFound, "packet capture is off: start serve with --capture");
        double window = capture.Window.TotalSeconds;
        TimeSpan span = capture.Window;
        string text = ctx.Request.Query["seconds"].ToString();
        if (text.Length > 0)
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
                || !double.IsFinite(seconds) || seconds <= 0 || seconds > window)
                return BadRequest($"bad seconds {text}: use a number of seconds above 0 and at most {window.ToString(CultureInfo.InvariantCulture)} (the capture window)");
            span = TimeSpan.FromSeconds(seconds);
        }
        CaptureDownload? file = capture.Cut(span);
        if (file is null)
            return Error(StatusCodes.Status503ServiceUnavailable, "the capture has not started yet");
        var h = ctx.Response.Headers;
        h.ContentDisposition = $"attachment; filename=\"{file.FileName}\"";
        h.CacheControl = "no-store";
        h["X-Sysstream-Packets"] = file.Packets.ToString(CultureInfo.InvariantCulture);
        if (file.Incomplete)
            h["X-Sysstream-Incomplete"] = "blocks of this span were dropped to stay within the byte limit";
        return Results.Bytes(file.Pcapng, "application/octet-stream");
    }

    private static IResult BadRequest(string message) => Error(StatusCodes.Status400BadRequest, message);

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError { Error = message }, ApiJsonContext.Default.ApiError, statusCode: status);

    private bool TryGroup(HttpContext ctx, out GroupBy g)
    {
        string text = ctx.Request.Query["group-by"].ToString();
        if (text.Length == 0)
        {
            g = _source.Options.GroupBy;
            return true;
        }
        return GroupByNames.TryParse(text, out g);
    }

    private static IResult Asset(HttpContext ctx, string name)
    {
        if (!s_assets.TryGetValue(name, out var asset))
            return Results.NotFound();
        ctx.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(asset.Bytes, asset.Type);
    }

    private static Dictionary<string, (byte[], string)> LoadAssets()
    {
        var assets = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        Assembly asm = typeof(WebServer).Assembly;
        foreach (string res in asm.GetManifestResourceNames())
        {
            if (!res.StartsWith("wwwroot/", StringComparison.Ordinal))
                continue;
            using Stream s = asm.GetManifestResourceStream(res)!;
            var bytes = new byte[s.Length];
            s.ReadExactly(bytes);
            string name = res["wwwroot/".Length..];
            string type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name] = (bytes, type);
        }
        return assets;
    }

    private static void SseHeaders(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
    }

    private async Task StreamGraphAsync(HttpContext ctx)
    {
        if (!TryGroup(ctx, out GroupBy g))
        {
            ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        SseHeaders(ctx);
        var updates = Channel.CreateBounded<MapState>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        void OnUpdate(MapState s) => updates.Writer.TryWrite(s);
        _source.Updated += OnUpdate;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
        CancellationToken ct = cts.Token;
        try
        {
            await SendGraphAsync(ctx, g, ct);
            while (!ct.IsCancellationRequested)
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(ct);
                beat.CancelAfter(TimeSpan.FromSeconds(15));
                bool more;
                try
                {
                    more = await updates.Reader.WaitToReadAsync(beat.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await ctx.Response.WriteAsync(": keep-alive\n\n", ct);
                    await ctx.Response.Body.FlushAsync(ct);
                    continue;
                }
                if (!more)
                    break;
                while (updates.Reader.TryRead(out _))
                {
                }
                await SendGraphAsync(ctx, g, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _source.Updated -= OnUpdate;
        }
    }

    private async Task SendGraphAsync(HttpContext ctx, GroupBy g, CancellationToken ct)
    {
        MapGraph graph = _source.Project(g);
        byte[] json = GraphWriters.JsonUtf8(graph);
        await ctx.Response.Body.WriteAsync("event: graph\ndata: "u8.ToArray(), ct);
        await ctx.Response.Body.WriteAsync(json, ct);
        await ctx.Response.Body.WriteAsync("\n\n"u8.ToArray(), ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    private async Task StreamEventsAsync(HttpContext ctx)
    {
        if (_options.Events is null)
        {
            await WriteError(ctx, StatusCodes.Status404NotFound, "live events are not offered by this server");
            return;
        }
        TraceFilter filter;
        try
        {
            var q = ctx.Request.Query;
            static string? One(string s) => s.Length == 0 ? null : s;
            filter = TraceFilter.Parse(
                q["pid"].Where(v => !string.IsNullOrEmpty(v)).Select(v => int.Parse(v!, CultureInfo.InvariantCulture)),
                q["comm"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!),
                One(q["uid"].ToString()),
                q["port"].Where(v => !string.IsNullOrEmpty(v)).Select(v => int.Parse(v!, CultureInfo.InvariantCulture)),
                q["addr"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!),
                One(q["family"].ToString()),
                One(q["proto"].ToString()),
                One(q["cgroup"].ToString()));
        }
        catch (Exception ex) when (ex is SysstreamException or FormatException or OverflowException)
        {
            await WriteError(ctx, StatusCodes.Status400BadRequest, ex.Message);
            return;
        }
        EventStreams.Stream? stream;
        try
        {
            stream = _options.Events.Open(filter, exitsOnly: ctx.Request.Query["enter"] != "1");
        }
        catch (SysstreamException ex)
        {
            await WriteError(ctx, StatusCodes.Status503ServiceUnavailable, ex.Message);
            return;
        }
        if (stream is null)
        {
            await WriteError(ctx, StatusCodes.Status429TooManyRequests, $"at most {_options.Events.MaxStreams} event streams at once");
            return;
        }
        using (stream)
        {
            SseHeaders(ctx);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
            CancellationToken ct = cts.Token;
            try
            {
                await ctx.Response.WriteAsync(": attached\n\n", ct);
                await ctx.Response.Body.FlushAsync(ct);
                var batch = new MemoryStream();
                while (await stream.Lines.WaitToReadAsync(ct))
                {
                    batch.SetLength(0);
                    int n = 0;
                    while (n < 256 && stream.Lines.TryRead(out byte[]? line))
                    {
                        batch.Write("data: "u8);
                        batch.Write(line);
                        batch.Write("\n\n"u8);
                        n++;
                    }
                    await ctx.Response.Body.WriteAsync(batch.GetBuffer().AsMemory(0, (int)batch.Length), ct);
                    await ctx.Response.Body.FlushAsync(ct);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task WriteError(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new ApiError { Error = message }, ApiJsonContext.Default.ApiError));
    }

    private static string DescribeFilter(TraceFilter f)
    {
        var parts = new List<string>();
        if (f.Pids.Count > 0) parts.Add("pid " + string.Join(',', f.Pids));
        if (f.Comms.Count > 0) parts.Add("comm " + string.Join(',', f.Comms));
        if (f.Uid is not null) parts.Add("uid " + f.Uid);
        if (f.Ports.Count > 0) parts.Add("port " + string.Join(',', f.Ports));
        if (f.Family is not null) parts.Add("family " + f.Family);
        if (f.Protocol is not null) parts.Add("proto " + f.Protocol);
        if (f.CgroupPath is not null) parts.Add("cgroup " + f.CgroupPath);
        return string.Join("; ", parts);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        try
        {
            await _app.StopAsync(TimeSpan.FromSeconds(2) is var t ? new CancellationTokenSource(t).Token : default);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
