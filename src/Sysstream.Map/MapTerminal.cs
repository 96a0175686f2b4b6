using System.Text;
using Sysstream.Graph;

namespace Sysstream.Map;

/// <summary>
/// Draws <see cref="MapScreen"/> on the terminal (alternate screen, ANSI) and feeds it keys.
/// The terminal is restored on every way out.
/// </summary>
public sealed class MapTerminal
{
    private readonly Func<GroupBy, MapGraph> _graph;
    private readonly TimeSpan _interval;

    public MapTerminal(Func<GroupBy, MapGraph> graph, TimeSpan interval)
    {
        _graph = graph;
        _interval = interval;
    }

    public async Task RunAsync(GroupBy groupBy, Task stop)
    {
        var state = new MapScreenState { GroupBy = groupBy };
        var output = Console.Out;
        output.Write("\x1b[?1049h\x1b[?25l");
        output.Flush();
        try
        {
            Console.TreatControlCAsInput = false;
        }
        catch (IOException)
        {
        }
        MapGraph? frozen = null;
        DateTime next = DateTime.MinValue;
        try
        {
            while (!stop.IsCompleted && !state.Quit)
            {
                bool redraw = DateTime.UtcNow >= next;
                while (KeyAvailable())
                {
                    ConsoleKeyInfo k = Console.ReadKey(intercept: true);
                    state = MapScreen.Apply(state, Map(k), k.KeyChar, Rows());
                    redraw = true;
                }
                if (state.Quit)
                    break;
                if (redraw)
                {
                    if (!state.Paused || frozen is null || frozen.GroupBy != state.GroupBy.Name())
                        frozen = _graph(state.GroupBy);
                    Draw(output, state, frozen, out state);
                    if (DateTime.UtcNow >= next)
                        next = DateTime.UtcNow + _interval;
                }
                await Task.WhenAny(stop, Task.Delay(50)).ConfigureAwait(false);
            }
        }
        finally
        {
            output.Write("\x1b[0m\x1b[?25h\x1b[?1049l");
            output.Flush();
        }
    }

    private static bool KeyAvailable()
    {
        try
        {
            return Console.KeyAvailable;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static int Rows() => Math.Max(1, SafeHeight() - MapScreen.ChromeLines);

    private static int SafeHeight()
    {
        try { return Console.WindowHeight > 0 ? Console.WindowHeight : 24; }
        catch (IOException) { return 24; }
    }

    private static int SafeWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 80; }
        catch (IOException) { return 80; }
    }

    private static void Draw(TextWriter output, MapScreenState state, MapGraph g, out MapScreenState clamped)
    {
        int width = SafeWidth(), height = SafeHeight();
        var lines = MapScreen.Render(state, g, width, height, DateTime.Now.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), out clamped);
        var sb = new StringBuilder("\x1b[H");
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i];
            string style = i == 0 ? "\x1b[7m"
                : i == lines.Count - 1 ? "\x1b[2m"
                : line.Contains("failed", StringComparison.Ordinal) && line.StartsWith("  ", StringComparison.Ordinal) ? "\x1b[31m"
                : line.Length > 0 && line[0] != ' ' && line[0] != '\u2500' ? "\x1b[1m"
                : "";
            sb.Append(style).Append(i == 0 ? line.PadRight(width) : line).Append("\x1b[0m\x1b[K");
            if (i < lines.Count - 1)
                sb.Append("\r\n");
        }
        output.Write(sb.ToString());
        output.Flush();
    }

    private static MapKey Map(ConsoleKeyInfo k) => k.Key switch
    {
        ConsoleKey.UpArrow => MapKey.Up,
        ConsoleKey.DownArrow => MapKey.Down,
        ConsoleKey.PageUp => MapKey.PageUp,
        ConsoleKey.PageDown => MapKey.PageDown,
        ConsoleKey.Home => MapKey.Home,
        ConsoleKey.End => MapKey.End,
        ConsoleKey.Enter => MapKey.Enter,
        ConsoleKey.Escape => MapKey.Escape,
        ConsoleKey.Backspace => MapKey.Backspace,
        _ => k.KeyChar != '\0' ? MapKey.Char : MapKey.None,
    };
}
