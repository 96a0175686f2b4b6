using System.Globalization;
using System.Text;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Sockets;
using Sysstream.Top.View;

namespace Sysstream.Top.Netstat;

/// <summary>How `netstat` runs.</summary>
public sealed record NetstatRunOptions
{
    public NetstatFilter Filter { get; init; } = new();
    public bool Json { get; init; }
    /// <summary>Refresh every <see cref="Delay"/> until stopped.</summary>
    public bool Watch { get; init; }
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// One snapshot of every socket, or with --watch one per interval: redrawn in place on a terminal,
/// appended otherwise. With top's maps (<paramref name="sampler"/>), rows carry bytes and age.
/// </summary>
public static class NetstatApp
{
    public static async Task RunAsync(SocketInventory inventory, Func<uint, string> users, TopSampler? sampler, IProcessFacts facts,
        NetstatRunOptions o, Stream stdout, EventClock clock, Task stop)
    {
        TopSnapshot? previous = sampler?.Baseline();
        bool screen = o.Watch && !o.Json && !Console.IsOutputRedirected;
        using AnsiScreen? ansi = screen ? new AnsiScreen(stdout) : null;
        while (true)
        {
            TopFrame? frame = null;
            if (sampler is not null)
            {
                TopSnapshot current = sampler.Sample();
                frame = FrameBuilder.Build(previous!, current, facts, commandLines: false);
                previous = current;
            }
            IReadOnlyList<NetstatRow> rows = NetstatRows.Build(inventory.Collect(), o.Filter, frame);
            long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            if (o.Json)
            {
                NetstatWriter.Json(stdout, rows, users, clock, now);
            }
            else
            {
                IReadOnlyList<string> lines = NetstatWriter.Table(rows, users, traffic: sampler is not null);
                if (ansi is not null)
                    Draw(ansi, lines, rows.Count, o.Delay);
                else
                    Print(stdout, lines, o.Watch);
            }
            if (!o.Watch)
                return;
            if (await Task.WhenAny(stop, Task.Delay(o.Delay)) == stop)
                return;
        }
    }

    private static void Draw(AnsiScreen screen, IReadOnlyList<string> lines, int count, TimeSpan delay)
    {
        (int width, int height) = (80, 24);
        try
        {
            (width, height) = (Math.Max(20, Console.WindowWidth), Math.Max(5, Console.WindowHeight));
        }
        catch (IOException)
        {
        }
        string title = $"sysstream netstat  {DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}  {count} sockets"
            + $"  every {delay.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture)}s  (Ctrl-C quits)";
        var screenLines = new List<ScreenLine> { new(Clip(title, width), LineStyle.Title) };
        for (int i = 0; i < lines.Count && screenLines.Count < height; i++)
            screenLines.Add(new ScreenLine(Clip(lines[i], width), i == 0 ? LineStyle.Header : LineStyle.Normal));
        while (screenLines.Count < height)
            screenLines.Add(new ScreenLine(""));
        screen.Draw(screenLines);
    }

    private static void Print(Stream stdout, IReadOnlyList<string> lines, bool watch)
    {
        var sb = new StringBuilder();
        foreach (string l in lines)
            sb.Append(l).Append('\n');
        if (watch)
            sb.Append('\n');
        byte[] bytes = Encoding.UTF8.GetBytes(sb.ToString());
        stdout.Write(bytes);
        stdout.Flush();
    }

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..width];
}
