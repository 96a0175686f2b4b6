using System.Globalization;
using System.Threading.Channels;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Top.Batch;
using Sysstream.Top.Input;
using Sysstream.Top.Model;
using Sysstream.Top.View;

namespace Sysstream.Top;

/// <summary>How `top` runs: the interval, how many frames, what it prints.</summary>
public sealed record TopRunOptions
{
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Frames to print in batch mode; 0: until stopped.</summary>
    public int Iterations { get; init; }
    public bool Json { get; init; }
    public TopViewKind View { get; init; } = TopViewKind.Processes;
    public bool CommandLines { get; init; }
    /// <summary>The kernel filters in effect, for the title line.</summary>
    public string FiltersText { get; init; } = "";
}

/// <summary>
/// The two ways `top` runs. Interactive: a full-screen view redrawn every interval and on every key.
/// Batch: frames printed as text or JSON. Both sample the maps on the interval; nothing is done per
/// event. Both stop on <c>stop</c> (SIGINT/SIGTERM) and restore the terminal on every exit.
/// </summary>
public static class TopApp
{
    public static async Task RunBatchAsync(TopSampler sampler, IProcessFacts facts, TopRunOptions o, Stream stdout,
        EventClock clock, Task stop)
    {
        TopSnapshot previous = sampler.Baseline();
        var json = o.Json ? new TopJsonWriter(stdout, clock) : null;
        using var text = o.Json ? null : new StreamWriter(stdout, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
        var textWriter = text is null ? null : new TopTextWriter(text, o.View, o.CommandLines);
        for (int i = 0; o.Iterations == 0 || i < o.Iterations; i++)
        {
            // A stop signal cuts the interval short: the frame so far is still printed.
            Task done = await Task.WhenAny(stop, Task.Delay(o.Delay));
            TopSnapshot current = sampler.Sample();
            TopFrame frame = FrameBuilder.Build(previous, current, facts);
            previous = current;
            if (json is not null)
                json.Write(frame);
            else
                textWriter!.Write(frame, Clock(), o.FiltersText);
            if (done == stop)
                break;
        }
    }

    public static async Task RunInteractiveAsync(TopSampler sampler, IProcessFacts facts, TopRunOptions o, Stream stdout, Task stop)
    {
        var keys = Channel.CreateUnbounded<TopKey>(new UnboundedChannelOptions { SingleReader = true });
        bool ctrlC = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true; // Ctrl-C arrives as a key: quit like `q`
        using var screen = new AnsiScreen(stdout);
        try
        {
            var reader = new Thread(() => ReadKeys(keys.Writer)) { IsBackground = true, Name = "sysstream-keys" };
            reader.Start();

            (int width, int height) = Size();
            TopSnapshot previous = sampler.Baseline();
            var state = new TopState
            {
                View = o.View,
                ShowCommandLine = o.CommandLines,
                PageRows = TopRenderer.RowsFor(height),
                // The first frame comes early, so the screen is not empty for a whole interval.
                Frame = TopFrame.Empty,
            };
            Task tick = Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, o.Delay.TotalMilliseconds)));
            screen.Draw(TopRenderer.Render(state, new RenderContext(width, height, Clock(), o.FiltersText)));
            Task? key = null;
            while (!state.Quit)
            {
                // one pending wait for keys at a time; the short delay notices terminal resizes
                if (key is null || key.IsCompleted)
                    key = keys.Reader.WaitToReadAsync().AsTask();
                Task done = await Task.WhenAny(stop, tick, key, Task.Delay(250));
                if (done == stop)
                    break;
                bool dirty = false;
                if (tick.IsCompleted)
                {
                    TopSnapshot current = sampler.Sample();
                    state = TopModel.WithFrame(state, FrameBuilder.Build(previous, current, facts));
                    previous = current;
                    tick = Task.Delay(o.Delay);
                    dirty = true;
                }
                while (keys.Reader.TryRead(out TopKey k))
                {
                    state = TopModel.Apply(state, KeyMap.Map(k, state));
                    dirty = true;
                }
                (int w, int h) = Size();
                if (w != width || h != height)
                {
                    (width, height) = (w, h);
                    state = TopModel.Apply(state, TopCommand.Resize(TopRenderer.RowsFor(height)));
                    screen.Invalidate();
                    dirty = true;
                }
                if (dirty && !state.Quit)
                    screen.Draw(TopRenderer.Render(state, new RenderContext(width, height, Clock(), o.FiltersText)));
            }
        }
        finally
        {
            screen.Dispose();
            Console.TreatControlCAsInput = ctrlC;
        }
    }

    private static void ReadKeys(ChannelWriter<TopKey> keys)
    {
        try
        {
            while (true)
                keys.TryWrite(TopKey.From(Console.ReadKey(intercept: true)));
        }
        catch (InvalidOperationException)
        {
            // no console input (closed): the view still updates, q is unavailable
        }
        catch (IOException)
        {
        }
    }

    private static (int Width, int Height) Size()
    {
        try
        {
            return (Math.Max(20, Console.WindowWidth), Math.Max(8, Console.WindowHeight));
        }
        catch (IOException)
        {
            return (80, 24);
        }
    }

    private static string Clock() => DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
}
