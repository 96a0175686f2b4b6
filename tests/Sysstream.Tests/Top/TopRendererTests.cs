using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Top.Batch;
using Sysstream.Top.Model;
using Sysstream.Top.View;
using Xunit;
using static Sysstream.Tests.Top.TopFixtures;

namespace Sysstream.Tests.Top;

public sealed class TopRendererTests
{
    private static TopFrame Frame() => FrameBuilder.Build(Snap(Second),
        Snap(2 * Second,
            [ProcRow(4242, "curl", tx: 87, rx: 100_204, exitNs: Second), ProcRow(77, "nginx\u001b[31m", tx: 100_204, rx: 87)],
            [Tcp(1, 4242, "127.0.0.1", 40000, "127.0.0.1", 8080, tx: 87, rx: 100_204, comm: "curl")]),
        new FakeFacts());

    [Fact]
    public void Screen_HasTitleTotalsHeaderRowsAndFooter_InItsSize()
    {
        var s = TopModel.WithFrame(new TopState { PageRows = TopRenderer.RowsFor(20) }, Frame());
        IReadOnlyList<ScreenLine> lines = TopRenderer.Render(s, new RenderContext(120, 20, "12:00:00"));

        Assert.Equal(20, lines.Count);
        Assert.All(lines, l => Assert.True(l.Text.Length <= 120));
        Assert.StartsWith("sysstream top  12:00:00", lines[0].Text);
        Assert.Contains("since start TX 97.9K", lines[1].Text);
        Assert.Contains("[1 Processes]", lines[2].Text);
        Assert.Equal(LineStyle.Header, lines[3].Style);
        Assert.Contains("PID", lines[3].Text);
        Assert.Contains("RX/s", lines[3].Text);
        Assert.Equal(LineStyle.Selected, lines[4].Style);
        Assert.Contains(" 77 ", lines[4].Text); // curl and nginx tie on rate and total: the lower pid first
        Assert.Contains(lines, l => l.Text.Contains("nginx?[31m")); // control characters never reach the terminal
        Assert.Contains("q quit", lines[^1].Text);
    }

    [Fact]
    public void NarrowScreen_DropsLessImportantColumns()
    {
        var s = TopModel.WithFrame(new TopState(), Frame());
        string header = TopRenderer.Render(s, new RenderContext(60, 10, "t"))[3].Text;
        Assert.Contains("PID", header);
        Assert.Contains("TX/s", header);
        Assert.Contains("COMM", header);
        Assert.DoesNotContain("PPID", header);
        Assert.DoesNotContain("RETR", header);
    }

    [Fact]
    public void ConnectionView_AndHelp()
    {
        var s = TopModel.WithFrame(new TopState { View = TopViewKind.Connections }, Frame());
        var lines = TopRenderer.Render(s, new RenderContext(160, 12, "t"));
        Assert.Contains("REMOTE", lines[3].Text);
        Assert.Contains("127.0.0.1:8080", lines[4].Text);
        Assert.Contains("ESTABLISHED", lines[4].Text);

        var help = TopRenderer.Render(s with { ShowHelp = true }, new RenderContext(160, 30, "t"));
        Assert.Contains(help, l => l.Text.Contains("sort by the next"));
        Assert.Contains(help, l => l.Text.Contains("A=AGE"));
    }

    [Fact]
    public void FilterPrompt_AndEmptyResult()
    {
        var s = TopModel.WithFrame(new TopState { EditingFilter = true, Filter = "zzz" }, Frame());
        var lines = TopRenderer.Render(s, new RenderContext(100, 10, "t"));
        Assert.StartsWith("Filter: zzz_", lines[^1].Text);
        Assert.Contains(lines, l => l.Text.Contains("no rows match"));
    }

    [Fact]
    public void Ansi_EmphasisesTheSortColumn()
    {
        string encoded = AnsiScreen.Encode(new ScreenLine("PID  TX/s", LineStyle.Header, 5, 4));
        Assert.Contains("\u001b[1;4mTX/s", encoded);
    }

    [Fact]
    public void Units_AreShortAndBinary()
    {
        Assert.Equal("1023B", Units.Bytes(1023));
        Assert.Equal("1.50K", Units.Bytes(1536));
        Assert.Equal("10.0M", Units.Bytes(10 * 1024 * 1024));
        Assert.Equal("0", Units.Rate(0));
        Assert.Equal("12m03s", Units.Age(723));
        Assert.Equal("850us", Units.Micros(850));
        Assert.Equal("ab+", Units.Fit("abcdef", 3, right: false));
    }

    [Fact]
    public void TextBatch_PrintsEveryRow()
    {
        var sw = new StringWriter();
        new TopTextWriter(sw, TopViewKind.Processes, commandLines: false).Write(Frame(), "12:00:00", "port 8080");
        string[] lines = sw.ToString().Split('\n');
        Assert.Contains("filters: port 8080", lines[0]);
        Assert.Contains(lines, l => l.Contains("4242") && l.Contains("curl") && l.Contains("exit"));
        Assert.Contains(lines, l => l.Contains("77") && l.Contains("nginx"));
    }

    [Fact]
    public void Json_HasTheDocumentedKeys()
    {
        var ms = new MemoryStream();
        new TopJsonWriter(ms, new EventClock(1_000_000_000_000)).Write(Frame());
        string text = System.Text.Encoding.UTF8.GetString(ms.ToArray());
        Assert.EndsWith("\n", text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.Equal(1.0, root.GetProperty("interval_s").GetDouble());
        Assert.Equal(100_291UL, root.GetProperty("totals").GetProperty("tx_bytes").GetUInt64());
        JsonElement curl = root.GetProperty("processes").EnumerateArray().Single(p => p.GetProperty("pid").GetInt32() == 4242);
        Assert.Equal("curl", curl.GetProperty("comm").GetString());
        Assert.True(curl.GetProperty("exited").GetBoolean());
        Assert.Equal(100_204UL, curl.GetProperty("rx_bytes").GetUInt64());
        Assert.Equal(87UL, curl.GetProperty("tx_bytes").GetUInt64());
        Assert.Equal("root", curl.GetProperty("user").GetString());
        foreach (string key in new[] { "ppid", "uid", "cmdline", "exit_ts", "first_seen", "last_seen", "sockets", "tx_rate", "rx_rate",
                     "tx_calls", "rx_calls", "connects", "connect_fails", "resets", "retransmits", "cgroup_id" })
            Assert.True(curl.TryGetProperty(key, out _), key);
        JsonElement conn = root.GetProperty("connections")[0];
        Assert.Equal("tcp", conn.GetProperty("proto").GetString());
        Assert.Equal("127.0.0.1", conn.GetProperty("raddr").GetString());
        Assert.Equal(8080, conn.GetProperty("rport").GetInt32());
        Assert.Equal(4242, conn.GetProperty("pid").GetInt32());
        Assert.Equal("ESTABLISHED", conn.GetProperty("state").GetString());
        Assert.Equal("established", conn.GetProperty("flags")[0].GetString());
        Assert.Equal("127.0.0.1", root.GetProperty("hosts")[0].GetProperty("raddr").GetString());
    }
}
