using Sysstream.Graph;

namespace Sysstream.Map;

/// <summary>What the terminal view shows besides the map: scroll position, grouping, filter, pause, help.</summary>
public sealed record MapScreenState
{
    public int Scroll { get; init; }
    public GroupBy GroupBy { get; init; } = GroupBy.ExeUser;
    public bool Paused { get; init; }
    public string Filter { get; init; } = "";
    public bool EditingFilter { get; init; }
    public bool ShowHelp { get; init; }
    public bool Quit { get; init; }
}

/// <summary>A key as the view understands it (decoupled from System.Console for tests).</summary>
public enum MapKey
{
    None,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Escape,
    Backspace,
    Char,
}

/// <summary>
/// The terminal view of the map, pure: keys change a <see cref="MapScreenState"/>, and a state
/// plus a <see cref="MapGraph"/> give the screen's lines. Nothing here touches the console.
/// </summary>
public static class MapScreen
{
    public const int ChromeLines = 3;

    public static readonly (string Keys, string Action)[] Help =
    [
        ("q, Esc", "quit"),
        ("Up/Down, PgUp/PgDn, Home/End", "scroll"),
        ("g", "group by: exe+user, pid, comm, exe, cgroup, user"),
        ("/", "filter nodes by text (Enter keeps, Esc clears)"),
        ("p", "pause / resume updates"),
        ("?", "this help"),
    ];

    public static MapScreenState Apply(MapScreenState s, MapKey key, char ch, int pageRows)
    {
        if (s.EditingFilter)
        {
            return key switch
            {
                MapKey.Enter => s with { EditingFilter = false, Scroll = 0 },
                MapKey.Escape => s with { EditingFilter = false, Filter = "", Scroll = 0 },
                MapKey.Backspace => s with { Filter = s.Filter.Length > 0 ? s.Filter[..^1] : "" },
                MapKey.Char when !char.IsControl(ch) => s with { Filter = s.Filter + ch, Scroll = 0 },
                _ => s,
            };
        }
        if (s.ShowHelp)
            return key == MapKey.None ? s : s with { ShowHelp = false };
        int page = Math.Max(1, pageRows - 1);
        return key switch
        {
            MapKey.Escape => s with { Quit = true },
            MapKey.Up => s with { Scroll = Math.Max(0, s.Scroll - 1) },
            MapKey.Down => s with { Scroll = s.Scroll + 1 },
            MapKey.PageUp => s with { Scroll = Math.Max(0, s.Scroll - page) },
            MapKey.PageDown => s with { Scroll = s.Scroll + page },
            MapKey.Home => s with { Scroll = 0 },
            MapKey.End => s with { Scroll = int.MaxValue / 2 },
            MapKey.Char => ch switch
            {
                'q' or 'Q' => s with { Quit = true },
                'g' => s with { GroupBy = (GroupBy)(((int)s.GroupBy + 1) % GroupByNames.All.Length), Scroll = 0 },
                'p' or ' ' => s with { Paused = !s.Paused },
                '/' => s with { EditingFilter = true },
                '?' or 'h' => s with { ShowHelp = true },
                'j' => s with { Scroll = s.Scroll + 1 },
                'k' => s with { Scroll = Math.Max(0, s.Scroll - 1) },
                _ => s,
            },
            _ => s,
        };
    }

    /// <summary>The map restricted to nodes whose label, id, executable or pids contain the filter (and their edges).</summary>
    public static MapGraph Filtered(MapGraph g, string filter)
    {
        if (filter.Length == 0)
            return g;
        var keep = g.Nodes.Where(n => Matches(n, filter)).Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        var edges = g.Edges.Where(e => keep.Contains(e.From) || keep.Contains(e.To)).ToList();
        foreach (MapEdge e in edges)
        {
            keep.Add(e.From);
            keep.Add(e.To);
        }
        return g with { Nodes = g.Nodes.Where(n => keep.Contains(n.Id)).ToList(), Edges = edges };
    }

    private static bool Matches(MapNode n, string f) =>
        n.Label.Contains(f, StringComparison.OrdinalIgnoreCase) || n.Id.Contains(f, StringComparison.OrdinalIgnoreCase)
        || (n.Exe?.Contains(f, StringComparison.OrdinalIgnoreCase) ?? false)
        || n.Pids.Any(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture) == f);

    /// <summary>The screen: a title, the map as an adjacency list (scrolled), and a footer.</summary>
    public static IReadOnlyList<string> Render(MapScreenState s, MapGraph g, int width, int height, string clock, out MapScreenState clamped)
    {
        width = Math.Max(40, width);
        height = Math.Max(ChromeLines + 2, height);
        int rows = height - ChromeLines;
        MapGraph shown = Filtered(g, s.Filter);
        var lines = new List<string>(height);
        MapTotals t = g.Totals;
        string title = $"sysstream map  {clock}  group by {s.GroupBy.Name()}  {t.Nodes} nodes  {t.Edges} edges  "
            + $"{t.Opened} conns ({t.Open} open, {t.Failed} failed)  \u2192{GraphWriters.Bytes(t.RateToServer)}/s \u2190{GraphWriters.Bytes(t.RateToClient)}/s";
        if (s.Paused)
            title += "  [PAUSED]";
        lines.Add(Fit(title, width));
        var body = new List<string>();
        if (s.ShowHelp)
        {
            body.Add("Keys");
            int w = Help.Max(h => h.Keys.Length) + 2;
            foreach ((string keys, string action) in Help)
                body.Add("  " + keys.PadRight(w) + action);
            body.Add("");
            body.Add("  Nodes are applications (processes grouped), remote addresses, or local ports with no process.");
            body.Add("  -> edges go from the side that connected to the side that accepted; \u2191 bytes sent, \u2193 received.");
            body.Add("  Sorted by traffic; totals count since sysstream attached.");
        }
        else
        {
            body.AddRange(GraphWriters.TextLines(shown, width).Skip(2));
            if (shown.Nodes.Count == 0)
                body.Add(s.Filter.Length > 0 ? $"  no node matches \"{s.Filter}\"" : "  nothing seen yet: waiting for connections");
        }
        int maxScroll = Math.Max(0, body.Count - rows);
        clamped = s.Scroll > maxScroll ? s with { Scroll = maxScroll } : s;
        int from = s.ShowHelp ? 0 : clamped.Scroll;
        lines.Add(new string('\u2500', width));
        for (int i = from; i < body.Count && lines.Count < height - 1; i++)
            lines.Add(Fit(body[i], width));
        while (lines.Count < height - 1)
            lines.Add("");
        string footer = s.EditingFilter
            ? "Filter: " + s.Filter + "_   (Enter keeps, Esc clears)"
            : s.ShowHelp ? "any key: back"
            : "q quit  ? help  g group-by  / filter  p pause  \u2191\u2193 scroll" + (s.Filter.Length > 0 ? $"   filter: {s.Filter}" : "");
        lines.Add(Fit(footer, width));
        return lines;
    }

    private static string Fit(string s, int width) => s.Length <= width ? s : s[..Math.Max(1, width - 1)] + "+";
}
