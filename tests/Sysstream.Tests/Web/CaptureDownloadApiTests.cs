using System.Net;
using System.Text.Json;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Cli.Commands;
using Sysstream.Graph;
using Sysstream.Tests.Capture;
using Sysstream.Tests.Output;
using Sysstream.Web;
using Xunit;

namespace Sysstream.Tests.Web;

/// <summary>
/// /api/capture.pcapng and /api/info of <c>serve</c> on a loopback port, over a window fed by
/// hand (no BPF): the documented error when capture is off, bad spans refused, the file and its
/// headers, the Host check; and serve's capture options on the command line.
/// </summary>
public class CaptureDownloadApiTests
{
    private const long S = 1_000_000_000L;

    private sealed class NoMap : IMapSource
    {
        public MapState Current => throw new NotSupportedException();
        public event Action<MapState>? Updated { add { } remove { } }
        public MapGraph Project(GroupBy groupBy) => throw new NotSupportedException();
        public MapOptions Options { get; } = new();
        public IReadOnlyList<string> Attached { get; } = ["test/hook"];
    }

    private sealed class WindowSource(CaptureWindow window) : ICaptureSource
    {
        public TimeSpan Window => window.Window;

        public ApiCapture Describe() => new() { WindowS = Window.TotalSeconds, MaxBytes = window.MaxBytes, HeldPackets = window.Stats.Packets };

        public CaptureDownload? Cut(TimeSpan span) => window.Cut(span) is { } f
            ? new CaptureDownload { Pcapng = f.Pcapng, CutAt = DateTime.UnixEpoch.AddTicks(f.ToUnixNs / 100), Host = "test host", Packets = f.Packets }
            : null;
    }

    /// <summary>A window with one packet a second for the last 60 s.</summary>
    private static CaptureWindow Sample(long now)
    {
        var window = new CaptureWindow(TimeSpan.FromSeconds(60), 1 << 20, () => now);
        var w = new PcapngWriter(window.CreateStream());
        CaptureFile.Begin(w, TestEvents.Clock(), new CaptureDescription { Hostname = "test" });
        int lo = w.BeginInterface(LinkType.Raw, 262144);
        w.AddUInt8Option(OptionCode.IfTsResol, 9);
        w.EndBlock();
        for (int i = 59; i >= 0; i--)
        {
            byte[] ip = CaptureFixtures.Tcp4("127.0.0.1", 1, "127.0.0.1", 2, 0x10, (uint)i, 10);
            w.BeginEnhancedPacket(lo, (ulong)(now - i * S - S / 2), ip, (uint)ip.Length);
            w.EndBlock();
        }
        return window;
    }

    private static async Task<(WebServer Server, HttpClient Client)> StartAsync(ICaptureSource? capture)
    {
        WebServer server = WebServer.Create(new NoMap(), new WebOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), Capture = capture });
        await server.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Bound.Port}/") };
        return (server, client);
    }

    [Fact]
    public async Task Without_capture_the_endpoint_is_404_with_a_json_error_and_info_says_so()
    {
        (WebServer server, HttpClient client) = await StartAsync(null);
        await using (server)
        using (client)
        {
            HttpResponseMessage r = await client.GetAsync("api/capture.pcapng");
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
            using JsonDocument error = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal("packet capture is off: start serve with --capture", error.RootElement.GetProperty("error").GetString());

            using JsonDocument info = JsonDocument.Parse(await client.GetStringAsync("api/info"));
            Assert.False(info.RootElement.GetProperty("capture_available").GetBoolean());
            Assert.Equal(JsonValueKind.Null, info.RootElement.GetProperty("capture").ValueKind);
        }
    }

    [Fact]
    public async Task With_capture_the_endpoint_gives_the_pcapng_of_the_asked_span()
    {
        long now = TestEvents.WallT0;
        (WebServer server, HttpClient client) = await StartAsync(new WindowSource(Sample(now)));
        await using (server)
        using (client)
        {
            using JsonDocument info = JsonDocument.Parse(await client.GetStringAsync("api/info"));
            Assert.True(info.RootElement.GetProperty("capture_available").GetBoolean());
            Assert.Equal(60, info.RootElement.GetProperty("capture").GetProperty("window_s").GetDouble());

            HttpResponseMessage r = await client.GetAsync("api/capture.pcapng");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("application/octet-stream", r.Content.Headers.ContentType?.MediaType);
            Assert.Equal("attachment", r.Content.Headers.ContentDisposition?.DispositionType);
            Assert.Equal("sysstream-test_host-20261128T010203Z.pcapng", r.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
            byte[] all = await r.Content.ReadAsByteArrayAsync();
            Assert.Equal(60, CaptureFixtures.ReadAll(all).Packets.Count);

            byte[] last10 = await client.GetByteArrayAsync("api/capture.pcapng?seconds=10");
            Assert.Equal(10, CaptureFixtures.ReadAll(last10).Packets.Count);
            byte[] half = await client.GetByteArrayAsync("api/capture.pcapng?seconds=2.2");
            Assert.Equal(2, CaptureFixtures.ReadAll(half).Packets.Count);

            foreach (string bad in new[] { "0", "-1", "61", "abc", "NaN", "Infinity" })
            {
                HttpResponseMessage b = await client.GetAsync("api/capture.pcapng?seconds=" + bad);
                Assert.Equal(HttpStatusCode.BadRequest, b.StatusCode);
                using JsonDocument e = JsonDocument.Parse(await b.Content.ReadAsStringAsync());
                Assert.StartsWith($"bad seconds {bad}: ", e.RootElement.GetProperty("error").GetString());
            }

            // The same Host check as every other route.
            using var foreign = new HttpRequestMessage(HttpMethod.Get, "api/capture.pcapng");
            foreign.Headers.Host = "attacker.example";
            Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(foreign)).StatusCode);
        }
    }

    [Fact]
    public async Task With_a_token_the_download_needs_it()
    {
        long now = TestEvents.WallT0;
        WebServer server = WebServer.Create(new NoMap(), new WebOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Token = "0123456789abcdef",
            Capture = new WindowSource(Sample(now)),
        });
        await server.StartAsync();
        await using (server)
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Bound.Port}/") })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/capture.pcapng")).StatusCode);
            using var authorized = new HttpRequestMessage(HttpMethod.Get, "api/capture.pcapng?seconds=5");
            authorized.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "0123456789abcdef");
            HttpResponseMessage r = await client.SendAsync(authorized);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(5, CaptureFixtures.ReadAll(await r.Content.ReadAsByteArrayAsync()).Packets.Count);
        }
    }

    // ------------------------------------------------------------------ the command line

    private static (int Code, string[] Lines) Run(params string[] args)
    {
        var err = new StringWriter();
        int code = CommandRunner.RunAsync(new System.CommandLine.RootCommand("test") { ServeCommand.Create() }, args, err).GetAwaiter().GetResult();
        return (code, err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("sysstream: bad --capture-seconds 0: use 1 to 86400", "serve", "--capture", "--capture-seconds", "0")]
    [InlineData("sysstream: bad --capture-seconds 86401: use 1 to 86400", "serve", "--capture", "--capture-seconds", "86401")]
    [InlineData("sysstream: --capture-seconds needs --capture", "serve", "--capture-seconds", "10")]
    [InlineData("sysstream: --snaplen needs --capture", "serve", "-s", "100")]
    [InlineData("sysstream: --capture-max-bytes needs --capture", "serve", "--capture-max-bytes", "8M")]
    [InlineData("sysstream: bad --capture-max-bytes 1000: use 1M to 1G, e.g. 64M or 268435456", "serve", "--capture", "--capture-max-bytes", "1000")]
    [InlineData("sysstream: bad --capture-max-bytes 2G: use 1M to 1G, e.g. 64M or 268435456", "serve", "--capture", "--capture-max-bytes", "2G")]
    [InlineData("sysstream: bad --capture-max-bytes lots: use 1M to 1G, e.g. 64M or 268435456", "serve", "--capture", "--capture-max-bytes", "lots")]
    [InlineData("sysstream: bad --snaplen 300000: at most 262144", "serve", "--capture", "-s", "300000")]
    public void Bad_capture_options_are_one_line_and_exit_64(string message, params string[] args)
    {
        (int code, string[] lines) = Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal(message, lines[0]);
        Assert.Equal("hint: see 'sysstream serve --help'", lines[1]);
        Assert.Equal(2, lines.Length);
    }

    [Theory]
    [InlineData("64M", 64L << 20)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1G", 1L << 30)]
    [InlineData("1048576", 1048576)]
    public void Byte_sizes_parse(string text, long bytes)
    {
        Assert.True(ServeCommand.TryParseBytes(text, out long n));
        Assert.Equal(bytes, n);
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("-1M")]
    [InlineData("1.5M")]
    [InlineData("1T")]
    [InlineData("99999999999999999999")]
    public void Bad_byte_sizes(string text) => Assert.False(ServeCommand.TryParseBytes(text, out _));

    [Fact]
    public void The_token_never_reaches_the_capture_file()
    {
        Assert.Equal("serve --capture --token REDACTED -l 0.0.0.0:7070", ServeCapture.RedactedArguments(["serve", "--capture", "--token", "s3cret-token", "-l", "0.0.0.0:7070"]));
        Assert.Equal("serve --token=REDACTED", ServeCapture.RedactedArguments(["serve", "--token=s3cret-token"]));
    }

    [Fact]
    public void Serves_own_connections_are_recognised_by_address_and_port()
    {
        static PacketTuple Tcp(string src, ushort sport, string dst, ushort dport, byte proto = PacketTuple.Tcp) =>
            new(proto, ServeCapture.OwnTraffic.Key(IPAddress.Parse(src)), sport, ServeCapture.OwnTraffic.Key(IPAddress.Parse(dst)), dport);

        var own = new ServeCapture.OwnTraffic();
        Assert.False(own.Matches(Tcp("127.0.0.1", 40000, "127.0.0.1", 7070))); // not set yet
        own.Set(new IPEndPoint(IPAddress.Loopback, 7070), []);
        Assert.True(own.Matches(Tcp("127.0.0.1", 40000, "127.0.0.1", 7070)));
        Assert.True(own.Matches(Tcp("127.0.0.1", 7070, "127.0.0.1", 40000)));
        Assert.False(own.Matches(Tcp("127.0.0.1", 7070, "127.0.0.1", 40000, PacketTuple.Udp)));
        Assert.False(own.Matches(Tcp("127.0.0.1", 40000, "127.0.0.1", 7071)));
        Assert.False(own.Matches(Tcp("10.0.0.1", 40000, "10.0.0.2", 7070))); // another host's port 7070

        own.Set(new IPEndPoint(IPAddress.Any, 7070), [IPAddress.Parse("10.0.0.1"), IPAddress.Parse("fd00::1")]);
        Assert.True(own.Matches(Tcp("10.0.0.9", 40000, "10.0.0.1", 7070)));
        Assert.True(own.Matches(Tcp("127.0.0.5", 7070, "127.0.0.1", 40000)));
        Assert.True(own.Matches(Tcp("::1", 40000, "::1", 7070)));
        Assert.True(own.Matches(Tcp("fd00::1", 7070, "fd00::2", 40000)));
        Assert.False(own.Matches(Tcp("10.0.0.1", 40000, "192.0.2.7", 7070)));
    }

    [Fact]
    public void Excluded_packets_never_enter_the_window()
    {
        long now = TestEvents.WallT0;
        var own = new ServeCapture.OwnTraffic();
        own.Set(new IPEndPoint(IPAddress.Loopback, 7070), []);
        var window = new CaptureWindow(TimeSpan.FromSeconds(60), 1 << 20, () => now) { Exclude = own.Matches };
        var w = new PcapngWriter(window.CreateStream());
        CaptureFile.Begin(w, TestEvents.Clock(), new CaptureDescription { Hostname = "test" });
        int lo = w.BeginInterface(LinkType.Raw, 262144);
        w.EndBlock();
        foreach (ushort port in new ushort[] { 7070, 8080, 7070 })
        {
            byte[] ip = CaptureFixtures.Tcp4("127.0.0.1", 40000, "127.0.0.1", port, 0x10, 1, 10);
            w.BeginEnhancedPacket(lo, (ulong)now / 1000, ip, (uint)ip.Length);
            w.EndBlock();
        }
        Assert.Equal(1, window.Stats.Packets);
        Assert.Equal(2, window.Stats.ExcludedPackets);
        Assert.Equal(8080, CaptureFixtures.ReadAll(window.Cut()!.Pcapng).Packets.Select(p => PacketTuple.TryParse(p.Data, out PacketTuple t) ? t.DstPort : 0).Single());
    }
}
