using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Sysstream.Privileged.Tests.Capture;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>
/// `sysstream serve --capture`: the pcapng of the last seconds, downloaded over HTTP and read by
/// Debian's tshark, holds the packets of a curl-nginx exchange made during the test, each with
/// curl's pid, and not those of an older exchange; without --capture the download is the
/// documented 404; the page shows the download button only when capture is on.
/// </summary>
public sealed class ServeCaptureTests(ITestOutputHelper log)
{
    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };

    [PrivilegedFact]
    public async Task The_pcapng_of_the_last_seconds_holds_the_http_packets_of_curl_with_its_pid()
    {
        string curl = Tools.Curl;
        _ = Tshark.Path;
        using var tmp = new TempDir("serve-capture");
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 23_456);
        int port = NginxServer.FreeTcpPort();
        await using TraceRun serve = await TraceRun.StartAsync(log, ["serve", "--no-dns", "--interval", "500ms", "--listen", $"127.0.0.1:{port}",
            "--capture", "--capture-seconds", "30", "--port", I(nginx.Port)]);
        using HttpClient http = Client(port);

        using JsonDocument info = JsonDocument.Parse(await http.GetStringAsync("api/info"));
        Assert.True(info.RootElement.GetProperty("capture_available").GetBoolean());
        Assert.Equal(30, info.RootElement.GetProperty("capture").GetProperty("window_s").GetDouble());

        // An older exchange, then the one the download must hold.
        ProcessOutcome older = await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        ProcessOutcome fetch = await Workload.RunOkAsync(curl, ["-s", "-o", "/dev/null", nginx.Url]);
        await Task.Delay(600); // the last packets, and the recorder's ordering window
        log.WriteLine($"older curl pid {older.Pid}, curl pid {fetch.Pid}, nginx worker {nginx.WorkerPid} port {nginx.Port}");

        HttpResponseMessage r = await http.GetAsync("api/capture.pcapng?seconds=2");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("application/octet-stream", r.Content.Headers.ContentType?.MediaType);
        string? name = r.Content.Headers.ContentDisposition?.FileName?.Trim('"');
        Assert.Matches(new Regex(@"^sysstream-[A-Za-z0-9._-]+-\d{8}T\d{6}Z\.pcapng$"), name ?? "");
        string file = tmp.File("last2s.pcapng");
        await File.WriteAllBytesAsync(file, await r.Content.ReadAsByteArrayAsync());
        await Tshark.ReadCleanlyAsync(file);

        List<Frame> packets = await Tshark.FramesAsync(file, $"tcp.port == {nginx.Port}", ["tcp.srcport", "tcp.dstport", "frame.comment"]);
        Assert.True(packets.Count >= 8, $"only {packets.Count} packets on port {nginx.Port}");
        // One connection only: the older one is not in the last 2 seconds.
        int curlPort = packets.Select(f => f.IntField("tcp.srcport") == nginx.Port ? f.IntField("tcp.dstport") : f.IntField("tcp.srcport")).Distinct().Single()!.Value;
        foreach (Frame f in packets)
        {
            Assert.True(f.Ends.Any(e => e.Pid == fetch.Pid && e.Comm == "curl"), $"packet without curl (pid {fetch.Pid}) on its connection: {f}");
            Assert.DoesNotContain(f.Ends, e => e.Pid == older.Pid);
        }
        // The HTTP request and the response are there (matched on their bytes: the port is not HTTP's).
        List<Frame> get = await Tshark.FramesAsync(file, $"tcp.srcport == {curlPort} && frame contains \"GET /{NginxServer.FileName} HTTP/1.1\"", ["frame.comment"]);
        PacketEnd sender = Assert.Single(Assert.Single(get).Ends, e => e.Dir == "out");
        Assert.Equal(fetch.Pid, sender.Pid);
        List<Frame> ok = await Tshark.FramesAsync(file, $"tcp.dstport == {curlPort} && frame contains \"HTTP/1.1 200 OK\"", ["frame.comment"]);
        Assert.Contains(Assert.Single(ok).Ends, e => e.Dir == "in" && e.Pid == fetch.Pid);
        Assert.Contains(ok[0].Ends, e => e.Dir == "out" && e.Pid == nginx.WorkerPid);

        // The whole window holds both exchanges.
        string whole = tmp.File("all.pcapng");
        await File.WriteAllBytesAsync(whole, await http.GetByteArrayAsync("api/capture.pcapng"));
        List<Frame> all = await Tshark.FramesAsync(whole, $"tcp.port == {nginx.Port}", ["frame.comment"]);
        Assert.Contains(all, f => f.Ends.Any(e => e.Pid == older.Pid));
        Assert.Contains(all, f => f.Ends.Any(e => e.Pid == fetch.Pid));

        HttpResponseMessage bad = await http.GetAsync("api/capture.pcapng?seconds=31");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        TraceResult done = await serve.StopAsync();
        Assert.Equal(0, done.ExitCode);
    }

    [PrivilegedFact]
    public async Task Without_capture_the_download_is_404_with_a_json_error()
    {
        int port = NginxServer.FreeTcpPort();
        await using TraceRun serve = await TraceRun.StartAsync(log, ["serve", "--no-dns", "--listen", $"127.0.0.1:{port}"]);
        using HttpClient http = Client(port);
        HttpResponseMessage r = await http.GetAsync("api/capture.pcapng?seconds=5");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        using JsonDocument error = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal("packet capture is off: start serve with --capture", error.RootElement.GetProperty("error").GetString());
        using JsonDocument info = JsonDocument.Parse(await http.GetStringAsync("api/info"));
        Assert.False(info.RootElement.GetProperty("capture_available").GetBoolean());
        TraceResult done = await serve.StopAsync();
        Assert.Equal(0, done.ExitCode);
    }

    [PrivilegedFact]
    public async Task The_page_offers_the_packet_download_only_when_capture_is_on()
    {
        Skip.IfNot(File.Exists(ServeTests.Chromium), "chromium is not installed (apt-get install chromium)");
        using IPlaywright pw = await Playwright.CreateAsync();
        await using IBrowser browser = await ServeTests.LaunchAsync(pw);
        foreach (bool capture in new[] { true, false })
        {
            int port = NginxServer.FreeTcpPort();
            string[] args = capture ? ["--capture", "--capture-seconds", "20"] : [];
            await using TraceRun serve = await TraceRun.StartAsync(log, ["serve", "--no-dns", "--listen", $"127.0.0.1:{port}", .. args]);
            await using IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true });
            IPage page = await context.NewPageAsync();
            var errors = new List<string>();
            page.PageError += (_, e) => errors.Add("page error: " + e);
            page.Console += (_, m) =>
            {
                if (m.Type == "error")
                    errors.Add("console: " + m.Text);
            };
            await page.GotoAsync($"http://127.0.0.1:{port}/", new PageGotoOptions { WaitUntil = WaitUntilState.DOMContentLoaded });
            await page.WaitForSelectorAsync("#status.live", new PageWaitForSelectorOptions { Timeout = 15_000 });
            ILocator button = page.Locator("#capture-download");
            if (!capture)
            {
                Assert.False(await button.IsVisibleAsync(), "the packet download is shown without --capture");
            }
            else
            {
                await button.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = 10_000 });
                Assert.Equal("/api/capture.pcapng?seconds=20", await button.GetAttributeAsync("href"));
                await page.Locator("#capture-seconds").SelectOptionAsync("10");
                Assert.Equal("/api/capture.pcapng?seconds=10", await button.GetAttributeAsync("href"));
                IDownload download = await page.RunAndWaitForDownloadAsync(() => button.ClickAsync());
                Assert.Matches(new Regex(@"^sysstream-.+-\d{8}T\d{6}Z\.pcapng$"), download.SuggestedFilename);
                string path = Path.Combine(Path.GetTempPath(), $"sysstream-ui-{Guid.NewGuid():n}.pcapng");
                try
                {
                    await download.SaveAsAsync(path);
                    await Tshark.ReadCleanlyAsync(path);
                }
                finally
                {
                    File.Delete(path);
                }
            }
            Assert.True(errors.Count == 0, "the page logged errors:\n" + string.Join('\n', errors));
            await page.CloseAsync();
            Assert.Equal(0, (await serve.StopAsync()).ExitCode);
        }
    }
}
