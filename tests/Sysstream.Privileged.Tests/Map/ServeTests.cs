using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Playwright;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>
/// `sysstream serve`: the page in a real headless Chromium (Debian's, driven by Playwright) shows
/// a connection made during the test and its bytes; a taken port is one line and exit 69; a
/// non-loopback listener (an address of a veth pair into a network namespace made here) answers
/// 401 without the token and 200 with it.
/// </summary>
public sealed class ServeTests(ITestOutputHelper log)
{
    internal const string Chromium = "/usr/bin/chromium";

    /// <summary>Debian's chromium, headless, with nothing leaving this machine: no background
    /// services, and no name lookups at all (pages are addressed by IP).</summary>
    internal static Task<IBrowser> LaunchAsync(IPlaywright pw) => pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = Chromium,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--dns-prefetch-disable", "--no-pings",
            "--disable-domain-reliability", "--disable-breakpad", "--metrics-recording-only",
            "--disable-features=NetworkPrediction,OptimizationHints,MediaRouter,DialMediaRouteProvider,WebRtcHideLocalIpsWithMdns",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
    });

    private async Task<TraceRun> ServeAsync(IEnumerable<string> args, [System.Runtime.CompilerServices.CallerMemberName] string name = "") =>
        await TraceRun.StartAsync(log, ["serve", "--no-dns", "--interval", "500ms", .. args], name: name);

    [PrivilegedFact]
    public async Task The_page_shows_a_connection_made_during_the_test_and_its_bytes()
    {
        Skip.IfNot(File.Exists(Chromium), "chromium is not installed (apt-get install chromium)");
        string curl = Tools.Curl;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 31_337);
        int port = NginxServer.FreeTcpPort();
        await using TraceRun serve = await ServeAsync(["--listen", $"127.0.0.1:{port}"]);

        using IPlaywright pw = await Playwright.CreateAsync();
        await using IBrowser browser = await LaunchAsync(pw);
        await using IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1500, Height = 900 },
        });
        IPage page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
                errors.Add("console: " + m.Text);
        };
        page.PageError += (_, e) => errors.Add("page error: " + e);
        page.RequestFailed += (_, r) =>
        {
            // EventSource streams end when the page goes away: not an error of the page
            if (!r.Url.Contains("/stream", StringComparison.Ordinal))
                errors.Add("request failed: " + r.Url + " " + r.Failure);
        };

        await page.GotoAsync($"http://127.0.0.1:{port}/", new PageGotoOptions { WaitUntil = WaitUntilState.DOMContentLoaded });
        await page.WaitForSelectorAsync("#status.live", new PageWaitForSelectorOptions { Timeout = 15_000 });

        // The connection is made while the page is open.
        using Process client = Workload.Start(curl, ["-s", "-o", "/dev/null", nginx.Url]);
        int curlPid = client.Id;
        ProcessOutcome o = await Workload.WaitAsync(client, TimeSpan.FromSeconds(30), "curl");
        Assert.Equal(0, o.ExitCode);
        AccessLogEntry entry = (await nginx.WaitForRequestsAsync(1))[0];

        // The edge from curl's node to the worker's node appears, with nginx's bytes.
        string? edgeId = null;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(20))
        {
            edgeId = await page.EvaluateAsync<string?>(@"([curl, worker]) => {
                const pidsOf = (id) => {
                    const n = [...document.querySelectorAll('g.node')].find(g => g.dataset.id === id);
                    return n ? n.dataset.pids.split(' ').map(Number) : [];
                };
                for (const e of document.querySelectorAll('g.edge')) {
                    if (pidsOf(e.dataset.from).includes(curl) && pidsOf(e.dataset.to).includes(worker)) return e.dataset.id;
                }
                return null;
            }", new[] { curlPid, nginx.WorkerPid });
            if (edgeId is not null)
                break;
            await Task.Delay(250);
        }
        Assert.True(edgeId is not null, "the page shows no edge from curl to the nginx worker: " + await page.InnerTextAsync("#summary"));

        // Both nodes are drawn.
        Assert.Equal(1, await page.Locator($"g.edge[data-id=\"{edgeId}\"]").CountAsync());
        string from = (await page.Locator($"g.edge[data-id=\"{edgeId}\"]").GetAttributeAsync("data-from"))!;
        string to = (await page.Locator($"g.edge[data-id=\"{edgeId}\"]").GetAttributeAsync("data-to"))!;
        Assert.True(await page.Locator($"g.node[data-id=\"{from}\"]").IsVisibleAsync());
        Assert.True(await page.Locator($"g.node[data-id=\"{to}\"]").IsVisibleAsync());
        Assert.Contains("curl", await page.Locator($"g.node[data-id=\"{from}\"] .title").TextContentAsync() ?? "", StringComparison.Ordinal);
        Assert.Contains("nginx", await page.Locator($"g.node[data-id=\"{to}\"] .title").TextContentAsync() ?? "", StringComparison.Ordinal);

        // Clicking the edge shows its bytes.
        await page.Locator($"g.edge-label[data-id=\"{edgeId}\"]").ClickAsync();
        ILocator toClient = page.Locator("#details [data-field=\"bytes-to-client\"]");
        await toClient.WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        Assert.Equal(entry.BytesSent.ToString(CultureInfo.InvariantCulture), await toClient.GetAttributeAsync("data-value"));
        Assert.Contains(entry.BytesSent.ToString("N0", CultureInfo.InvariantCulture), await toClient.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("curl", await page.InnerTextAsync("#details h2"), StringComparison.Ordinal);
        Assert.True(await page.Locator("#details .conn-table tr[data-conn]").CountAsync() >= 1);

        string dir = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(dir);
        string shot = Path.Combine(dir, "serve-map.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot });
        log.WriteLine($"screenshot: {shot}");

        // The other views load too.
        await page.ClickAsync("#tabbtn-processes");
        await page.WaitForSelectorAsync("#procs tbody tr", new PageWaitForSelectorOptions { Timeout = 10_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, "serve-processes.png") });
        await page.ClickAsync("#tabbtn-map");

        Assert.True(errors.Count == 0, "the page logged errors:\n" + string.Join('\n', errors));
        await page.CloseAsync();
        TraceResult r = await serve.StopAsync();
        Assert.Equal(0, r.ExitCode);
    }

    [PrivilegedFact]
    public async Task A_port_in_use_is_one_line_and_exit_69()
    {
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            SysstreamExecutable exe = SysstreamExecutable.Default;
            ProcessOutcome o = await Workload.RunAsync(exe.FileName, exe.Arguments(["serve", "--no-dns", "--listen", $"127.0.0.1:{port}"]), TimeSpan.FromSeconds(60));
            log.WriteLine(o.ToString());
            Assert.Equal(69, o.ExitCode);
            string[] lines = o.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith($"sysstream: listening on 127.0.0.1:{port}: address already in use", lines[0], StringComparison.Ordinal);
            Assert.True(lines.Length <= 2, "more than a message and a hint:\n" + o.Stderr);
            Assert.DoesNotContain("   at ", o.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", o.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            taken.Stop();
        }
    }

    [PrivilegedFact]
    public async Task A_non_loopback_listener_answers_401_without_the_token_and_200_with_it()
    {
        string ip = Tools.Require("ip", "/usr/sbin/ip");
        string curl = Tools.Curl;
        await using var net = await TestNetwork.CreateAsync(ip);
        int port = NginxServer.FreeTcpPort();
        // No --token: serve makes one and prints it.
        SysstreamExecutable exe = SysstreamExecutable.Default;
        using Process serve = Workload.Start(exe.FileName, exe.Arguments(["serve", "--no-dns", "--listen", $"{net.HostAddress}:{port}"]));
        string? tokenLine = null;
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (tokenLine is null && await serve.StandardError.ReadLineAsync(cts.Token) is { } line)
            {
                log.WriteLine("serve: " + line);
                if (line.StartsWith("sysstream: token ", StringComparison.Ordinal))
                    tokenLine = line;
            }
        }
        Assert.NotNull(tokenLine);
        string token = tokenLine!.Split(' ')[2];
        string url = $"http://{net.HostAddress}:{port}/api/info";

        async Task<string> Status(params string[] extra)
        {
            // From inside the namespace, over the veth pair, to the host's end of it.
            ProcessOutcome o = await Workload.RunAsync(ip, ["netns", "exec", net.Namespace, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                "--max-time", "10", .. extra, url]);
            return o.Stdout.Trim();
        }

        Assert.Equal("401", await Status());
        Assert.Equal("401", await Status("-H", "Authorization: Bearer not-the-token"));
        Assert.Equal("200", await Status("-H", $"Authorization: Bearer {token}"));
        ProcessOutcome page = await Workload.RunAsync(ip, ["netns", "exec", net.Namespace, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
            $"http://{net.HostAddress}:{port}/?token={token}"]);
        Assert.Equal("200", page.Stdout.Trim());
        Assert.Equal("401", await Status("--cookie", "sysstream_token=wrong"));
        Assert.Equal("200", await Status("--cookie", $"sysstream_token={token}"));
        Posix.Signal(serve.Id, Posix.SIGTERM);
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await serve.WaitForExitAsync(exit.Token);
        Assert.Equal(0, serve.ExitCode);
    }
}

/// <summary>
/// A veth pair between this host and a network namespace made for one test: the host's end has
/// <see cref="HostAddress"/>, the namespace's end <see cref="PeerAddress"/>. Removed on dispose.
/// Traffic stays between the two ends.
/// </summary>
internal sealed class TestNetwork : IAsyncDisposable
{
    private readonly string _ip;

    public string Namespace { get; }
    public string HostLink { get; }
    public string HostAddress { get; }
    public string PeerAddress { get; }

    private TestNetwork(string ip, string ns, string link, string host, string peer)
    {
        _ip = ip;
        Namespace = ns;
        HostLink = link;
        HostAddress = host;
        PeerAddress = peer;
    }

    public static async Task<TestNetwork> CreateAsync(string ip)
    {
        int n = Environment.ProcessId % 200 + 20;
        string ns = $"ssmap{Environment.ProcessId}", host = $"ssm{n}h", peer = $"ssm{n}p";
        string hostAddr = $"10.250.{n}.1", peerAddr = $"10.250.{n}.2";
        var net = new TestNetwork(ip, ns, host, hostAddr, peerAddr);
        try
        {
            await Run(ip, "netns", "add", ns);
            await Run(ip, "link", "add", host, "type", "veth", "peer", "name", peer);
            await Run(ip, "link", "set", peer, "netns", ns);
            await Run(ip, "addr", "add", hostAddr + "/30", "dev", host);
            await Run(ip, "link", "set", host, "up");
            await Run(ip, "netns", "exec", ns, ip, "addr", "add", peerAddr + "/30", "dev", peer);
            await Run(ip, "netns", "exec", ns, ip, "link", "set", peer, "up");
            await Run(ip, "netns", "exec", ns, ip, "link", "set", "lo", "up");
            return net;
        }
        catch
        {
            await net.DisposeAsync();
            throw;
        }
    }

    private static async Task Run(string file, params string[] args)
    {
        ProcessOutcome o = await Workload.RunAsync(file, args, TimeSpan.FromSeconds(20));
        Skip.If(o.ExitCode != 0, $"cannot set up the test network ({file} {string.Join(' ', args)}): {o.Stderr.Trim()}");
    }

    public async ValueTask DisposeAsync()
    {
        await Workload.RunAsync(_ip, ["link", "del", HostLink], TimeSpan.FromSeconds(20));
        await Workload.RunAsync(_ip, ["netns", "del", Namespace], TimeSpan.FromSeconds(20));
    }
}
