using System.Globalization;
using Sysstream.Aggregation;
using Sysstream.Top.Input;
using Sysstream.Top.Model;

namespace Sysstream.Top.View;

public enum LineStyle
{
    Normal,
    Title,
    Header,
    Selected,
    Dim,
    Prompt,
}

/// <summary>One screen line: text, a style, and a part to emphasise (the sort column's header).</summary>
public readonly record struct ScreenLine(string Text, LineStyle Style = LineStyle.Normal, int EmphasisStart = 0, int EmphasisLength = 0);

/// <summary>What the screen needs besides the state: its size, the wall-clock time, the active filters.</summary>
public readonly record struct RenderContext(int Width, int Height, string Clock, string Filters = "");

/// <summary>
/// Draws a <see cref="TopState"/> as lines of text: pure (no console), so tests read the screen as
/// strings. Layout: title, totals, view tabs, column header, rows, and a footer with the keys or
/// the filter being typed.
/// </summary>
public static class TopRenderer
{
    /// <summary>Lines above and below the rows.</summary>
    public const int ChromeLines = 5;

    public static int RowsFor(int height) => Math.Max(1, height - ChromeLines);

    public static IReadOnlyList<ScreenLine> Render(TopState s, RenderContext ctx)
    {
        int width = Math.Max(20, ctx.Width);
        int height = Math.Max(ChromeLines + 1, ctx.Height);
        var lines = new List<ScreenLine>(height)
        {
            new(Clip(Title(s, ctx), width), LineStyle.Title),
            new(Clip(TotalsLine(s.Frame.Totals), width)),
            new(Clip(Tabs(s), width)),
        };
        int rows = height - ChromeLines;
        if (s.ShowHelp)
        {
            lines.Add(new ScreenLine(Clip("Keys", width), LineStyle.Header));
            foreach (string l in HelpLines(s).Take(rows))
                lines.Add(new ScreenLine(Clip(l, width)));
        }
        else
        {
            switch (s.View)
            {
                case TopViewKind.Connections:
                    Table(lines, s, Columns.Connections, TopModel.Connections(s), width, rows, r => r.Totals.Closed);
                    break;
                case TopViewKind.Hosts:
                    Table(lines, s, Columns.Hosts, TopModel.Hosts(s), width, rows, r => r.OpenConnections == 0);
                    break;
                default:
                    Table(lines, s, Columns.Processes, TopModel.Processes(s), width, rows, r => r.Totals.Exited);
                    break;
            }
        }
        while (lines.Count < height - 1)
            lines.Add(new ScreenLine(""));
        lines.Add(Footer(s, width));
        return lines;
    }

    private static void Table<T>(List<ScreenLine> lines, TopState s, IReadOnlyList<Column<T>> columns, IReadOnlyList<T> rows,
        int width, int room, Func<T, bool> dim)
    {
        var layout = TableLayout.Fit(columns, width);
        string header = TableLayout.Header(layout, s.Sort, out int start, out int length);
        lines.Add(new ScreenLine(Clip(header, width).PadRight(width), LineStyle.Header, start, length));
        ColumnContext cc = TopModel.Context(s);
        for (int i = s.Scroll; i < rows.Count && i < s.Scroll + room; i++)
        {
            string text = Clip(TableLayout.Row(layout, rows[i], cc), width);
            LineStyle style = i == s.Selected ? LineStyle.Selected : dim(rows[i]) ? LineStyle.Dim : LineStyle.Normal;
            lines.Add(new ScreenLine(style == LineStyle.Selected ? text.PadRight(width) : text, style));
        }
        if (rows.Count == 0)
            lines.Add(new ScreenLine(Clip(s.Filter.Length > 0 ? $"  no rows match \"{s.Filter}\"" : "  nothing seen yet", width), LineStyle.Dim));
    }

    public static string Title(TopState s, RenderContext ctx)
    {
        TotalsRow t = s.Frame.Totals;
        string interval = s.Frame.IntervalSeconds > 0 ? s.Frame.IntervalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s" : "-";
        string text = $"sysstream top  {ctx.Clock}  interval {interval}  processes {t.Processes} ({t.ExitedProcesses} exited)"
            + $"  connections {t.OpenConnections} open / {t.Connections}";
        if (ctx.Filters.Length > 0)
            text += "  filters: " + ctx.Filters;
        if (s.Paused)
            text += "  [PAUSED]";
        return text;
    }

    public static string TotalsLine(TotalsRow t) =>
        $"TX {Units.Rate(t.TxRate)}/s  RX {Units.Rate(t.RxRate)}/s   since start TX {Units.Bytes(t.TxBytes)}  RX {Units.Bytes(t.RxBytes)}"
        + $"   connects {t.Connects}  failed {t.ConnectFails}  resets {t.Resets}  retrans {t.Retransmits}";

    public static string Tabs(TopState s)
    {
        string Tab(TopViewKind v, string name) => s.View == v ? "[" + name + "]" : " " + name + " ";
        string text = Tab(TopViewKind.Processes, "1 Processes") + " " + Tab(TopViewKind.Connections, "c Connections") + " "
            + Tab(TopViewKind.Hosts, "h Hosts");
        text += "   sort: " + SortName(s) + (s.Sort.Descending ? " (desc)" : " (asc)");
        if (s.FocusPid is int pid)
            text += "   pid " + pid.ToString(CultureInfo.InvariantCulture);
        if (s.Filter.Length > 0 && !s.EditingFilter)
            text += "   filter: " + TableLayout.Sanitize(s.Filter);
        return text;
    }

    public static string SortName(TopState s)
    {
        if (s.Sort.Column == ColumnId.Activity)
            return "activity";
        return s.View switch
        {
            TopViewKind.Connections => Columns.Connections.FirstOrDefault(c => c.Id == s.Sort.Column)?.Header,
            TopViewKind.Hosts => Columns.Hosts.FirstOrDefault(c => c.Id == s.Sort.Column)?.Header,
            _ => Columns.Processes.FirstOrDefault(c => c.Id == s.Sort.Column)?.Header,
        } ?? "activity";
    }

    public static IEnumerable<string> HelpLines(TopState s)
    {
        int w = KeyMap.Help.Max(h => h.Keys.Length) + 2;
        foreach ((string keys, string action) in KeyMap.Help)
            yield return "  " + keys.PadRight(w) + action;
        yield return "";
        yield return "  Sort keys in this view: " + string.Join("  ", TopModel.SortKeys(s.View).Select(k => $"{k.Key}={k.Header}"));
        yield return "";
        yield return "  Rates are bytes per second over the last interval; totals count since sysstream attached.";
        yield return "  Exited processes and closed connections stay listed (dimmed) for a while.";
    }

    private static ScreenLine Footer(TopState s, int width)
    {
        if (s.EditingFilter)
            return new ScreenLine(Clip("Filter: " + TableLayout.Sanitize(s.Filter) + "_   (Enter keeps, Esc clears)", width), LineStyle.Prompt);
        string keys = s.ShowHelp ? "any key: back" : "q quit  ? help  c conns  h hosts  Enter open  / filter  s/</> sort  r reverse  p pause  a cmdline";
        return new ScreenLine(Clip(keys, width), LineStyle.Prompt);
    }

    private static string Clip(string text, int width) => text.Length <= width ? text : text[..width];
}
