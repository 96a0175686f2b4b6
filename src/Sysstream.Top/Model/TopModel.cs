using System.Globalization;
using Sysstream.Aggregation;

namespace Sysstream.Top.Model;

/// <summary>
/// The pure logic of `sysstream top`: (state, frame) -> state, (state, command) -> state, and the
/// rows a view shows (filtered, sorted). No console, no clock, no BPF: unit-tested as values.
/// </summary>
public static class TopModel
{
    /// <summary>A new interval's data; held back while paused. The selection follows its row.</summary>
    public static TopState WithFrame(TopState s, TopFrame frame)
    {
        if (s.Paused)
            return s with { Held = frame };
        return Follow(s, s with { Frame = frame });
    }

    public static TopState Apply(TopState s, TopCommand c)
    {
        // Help is a page over the view: any key closes it (q still quits).
        if (s.ShowHelp && c.Kind is not (CommandKind.Quit or CommandKind.Resize or CommandKind.None))
            return s with { ShowHelp = false };
        TopState n = c.Kind switch
        {
            CommandKind.Quit => s with { Quit = true },
            CommandKind.ShowProcesses => Switch(s, TopViewKind.Processes) with { FocusPid = null },
            CommandKind.ShowConnections => Switch(s, TopViewKind.Connections) with { FocusPid = null },
            CommandKind.ShowHosts => Switch(s, TopViewKind.Hosts) with { FocusPid = null },
            CommandKind.NextView => Switch(s, (TopViewKind)(((int)s.View + 1) % 3)) with { FocusPid = null },
            CommandKind.Open => Open(s),
            CommandKind.Back => Back(s),
            CommandKind.SortNext => MoveSort(s, +1),
            CommandKind.SortPrevious => MoveSort(s, -1),
            CommandKind.SortBy => SortBy(s, c.Column),
            CommandKind.ReverseSort => WithSort(s, s.Sort with { Descending = !s.Sort.Descending }),
            CommandKind.StartFilter => s with { EditingFilter = true },
            CommandKind.FilterInput when s.EditingFilter && !char.IsControl(c.Char) => Top(s with { Filter = s.Filter + c.Char }),
            CommandKind.FilterBackspace when s.EditingFilter && s.Filter.Length > 0 => Top(s with { Filter = s.Filter[..^1] }),
            CommandKind.FilterAccept => s with { EditingFilter = false },
            CommandKind.FilterCancel => Top(s with { EditingFilter = false, Filter = "" }),
            CommandKind.TogglePause => s.Paused
                ? Follow(s, s with { Paused = false, Frame = s.Held ?? s.Frame, Held = null })
                : s with { Paused = true },
            CommandKind.ToggleHelp => s with { ShowHelp = !s.ShowHelp },
            CommandKind.ToggleCommandLine => s with { ShowCommandLine = !s.ShowCommandLine },
            CommandKind.Up => s with { Selected = s.Selected - 1 },
            CommandKind.Down => s with { Selected = s.Selected + 1 },
            CommandKind.PageUp => s with { Selected = s.Selected - s.PageRows, Scroll = s.Scroll - s.PageRows },
            CommandKind.PageDown => s with { Selected = s.Selected + s.PageRows, Scroll = s.Scroll + s.PageRows },
            CommandKind.Home => s with { Selected = 0, Scroll = 0 },
            CommandKind.End => s with { Selected = int.MaxValue / 2 },
            CommandKind.Resize => s with { PageRows = Math.Max(1, c.Value) },
            _ => s,
        };
        return Clamp(n);
    }

    // ------------------------------------------------------------------ rows

    public static IReadOnlyList<ProcessRow> Processes(TopState s) =>
        Visible(s.Frame.Processes, Columns.Processes, s.ProcessSort, s.Filter, Context(s),
            (a, b) => Columns.Activity(a.TxRate + a.RxRate, a.Totals.TxBytes + a.Totals.RxBytes,
                b.TxRate + b.RxRate, b.Totals.TxBytes + b.Totals.RxBytes),
            (a, b) => a.Pid != b.Pid ? a.Pid.CompareTo(b.Pid) : a.Totals.StartNs.CompareTo(b.Totals.StartNs),
            r => r.CommandLine);

    public static IReadOnlyList<ConnectionRow> Connections(TopState s)
    {
        IReadOnlyList<ConnectionRow> rows = s.Frame.Connections;
        if (s.FocusPid is int pid)
            rows = rows.Where(r => r.Totals.OwnerPid == pid).ToList();
        return Visible(rows, Columns.Connections, s.ConnectionSort, s.Filter, Context(s),
            (a, b) => Columns.Activity(a.TxRate + a.RxRate, a.Totals.TxBytes + a.Totals.RxBytes,
                b.TxRate + b.RxRate, b.Totals.TxBytes + b.Totals.RxBytes),
            (a, b) => a.Totals.Cookie.CompareTo(b.Totals.Cookie),
            r => r.OwnerUser);
    }

    public static IReadOnlyList<HostRow> Hosts(TopState s) =>
        Visible(s.Frame.Hosts, Columns.Hosts, s.HostSort, s.Filter, Context(s),
            (a, b) => Columns.Activity(a.TxRate + a.RxRate, a.TxBytes + a.RxBytes, b.TxRate + b.RxRate, b.TxBytes + b.RxBytes),
            (a, b) => string.CompareOrdinal(a.Address, b.Address),
            null);

    public static int RowCount(TopState s) => s.View switch
    {
        TopViewKind.Connections => Connections(s).Count,
        TopViewKind.Hosts => Hosts(s).Count,
        _ => Processes(s).Count,
    };

    public static ColumnContext Context(TopState s) => new(s.ShowCommandLine);

    /// <summary>Filters (any column's text, or the extra text, contains the filter) and sorts
    /// (the chosen column, ties broken by a fixed order so rows do not jump).</summary>
    public static IReadOnlyList<T> Visible<T>(IReadOnlyList<T> rows, IReadOnlyList<Column<T>> columns, SortSpec sort,
        string filter, ColumnContext ctx, Comparison<T> activity, Comparison<T> tiebreak, Func<T, string>? extra)
    {
        IEnumerable<T> selected = rows;
        if (filter.Length > 0)
        {
            selected = rows.Where(r => columns.Any(c => c.Text(r, ctx).Contains(filter, StringComparison.OrdinalIgnoreCase))
                || (extra is not null && extra(r).Contains(filter, StringComparison.OrdinalIgnoreCase)));
        }
        Comparison<T> primary = sort.Column == ColumnId.Activity
            ? activity
            : columns.FirstOrDefault(c => c.Id == sort.Column)?.Compare ?? activity;
        var list = selected.ToList();
        list.Sort((a, b) =>
        {
            int c = primary(a, b);
            if (sort.Descending)
                c = -c;
            return c != 0 ? c : tiebreak(a, b);
        });
        return list;
    }

    /// <summary>A stable identity of the selected row, so the selection stays on it when rows move.</summary>
    public static string? SelectedId(TopState s)
    {
        IReadOnlyList<string> ids = RowIds(s);
        return s.Selected >= 0 && s.Selected < ids.Count ? ids[s.Selected] : null;
    }

    /// <summary>The identities of the visible rows, in screen order.</summary>
    public static IReadOnlyList<string> RowIds(TopState s) => s.View switch
    {
        TopViewKind.Connections => Connections(s).Select(c => "c" + c.Totals.Cookie.ToString(CultureInfo.InvariantCulture)).ToList(),
        TopViewKind.Hosts => Hosts(s).Select(h => "h" + h.Address).ToList(),
        _ => Processes(s).Select(p => "p" + p.Pid.ToString(CultureInfo.InvariantCulture) + ":" + p.Totals.StartNs.ToString(CultureInfo.InvariantCulture)).ToList(),
    };

    /// <summary>The sort keys of the current view, as "P=PID ..." for the help screen.</summary>
    public static IEnumerable<(char Key, string Header)> SortKeys(TopViewKind view) => view switch
    {
        TopViewKind.Connections => Columns.Connections.Select(c => (c.Key, c.Header)),
        TopViewKind.Hosts => Columns.Hosts.Select(c => (c.Key, c.Header)),
        _ => Columns.Processes.Select(c => (c.Key, c.Header)),
    };

    /// <summary>The column a sort key picks in a view; null when the view has none.</summary>
    public static ColumnId? ColumnOfKey(TopViewKind view, char key)
    {
        foreach ((char k, ColumnId id) in KeysOf(view))
        {
            if (k == key)
                return id;
        }
        return null;
    }

    private static IEnumerable<(char, ColumnId)> KeysOf(TopViewKind view) => view switch
    {
        TopViewKind.Connections => Columns.Connections.Select(c => (c.Key, c.Id)),
        TopViewKind.Hosts => Columns.Hosts.Select(c => (c.Key, c.Id)),
        _ => Columns.Processes.Select(c => (c.Key, c.Id)),
    };

    private static IReadOnlyList<(ColumnId Id, bool DescendingFirst)> ColumnsOf(TopViewKind view) => view switch
    {
        TopViewKind.Connections => Columns.Connections.Select(c => (c.Id, c.DescendingFirst)).ToList(),
        TopViewKind.Hosts => Columns.Hosts.Select(c => (c.Id, c.DescendingFirst)).ToList(),
        _ => Columns.Processes.Select(c => (c.Id, c.DescendingFirst)).ToList(),
    };

    // ------------------------------------------------------------------ commands

    private static TopState Switch(TopState s, TopViewKind view) =>
        s with { View = view, Selected = 0, Scroll = 0, EditingFilter = false };

    private static TopState Top(TopState s) => s with { Selected = 0, Scroll = 0 };

    private static TopState Open(TopState s)
    {
        if (s.View == TopViewKind.Processes)
        {
            var rows = Processes(s);
            if (s.Selected >= rows.Count)
                return s;
            return Switch(s, TopViewKind.Connections) with { FocusPid = rows[s.Selected].Pid, Filter = "" };
        }
        if (s.View == TopViewKind.Hosts)
        {
            var rows = Hosts(s);
            if (s.Selected >= rows.Count)
                return s;
            return Switch(s, TopViewKind.Connections) with { FocusPid = null, Filter = rows[s.Selected].Address == "*" ? "" : rows[s.Selected].Address };
        }
        return s;
    }

    private static TopState Back(TopState s)
    {
        if (s.EditingFilter)
            return Top(s with { EditingFilter = false, Filter = "" });
        if (s.View == TopViewKind.Connections && s.FocusPid is int pid)
        {
            TopState back = Switch(s, TopViewKind.Processes) with { FocusPid = null };
            var rows = Processes(back);
            int i = IndexOf(rows, r => r.Pid == pid);
            return i < 0 ? back : back with { Selected = i };
        }
        if (s.View != TopViewKind.Processes)
            return Switch(s, TopViewKind.Processes);
        if (s.Filter.Length > 0)
            return Top(s with { Filter = "" });
        return s;
    }

    private static TopState SortBy(TopState s, ColumnId column)
    {
        var cols = ColumnsOf(s.View);
        int i = IndexOf(cols, c => c.Id == column);
        if (i < 0)
            return s;
        if (s.Sort.Column == column)
            return WithSort(s, s.Sort with { Descending = !s.Sort.Descending });
        return WithSort(s, new SortSpec(column, cols[i].DescendingFirst));
    }

    private static TopState MoveSort(TopState s, int step)
    {
        var cols = ColumnsOf(s.View);
        int i = IndexOf(cols, c => c.Id == s.Sort.Column); // -1 for Activity
        int next = i < 0 ? (step > 0 ? 0 : cols.Count - 1) : (i + step + cols.Count) % cols.Count;
        return WithSort(s, new SortSpec(cols[next].Id, cols[next].DescendingFirst));
    }

    private static TopState WithSort(TopState s, SortSpec sort) => s.View switch
    {
        TopViewKind.Connections => s with { ConnectionSort = sort },
        TopViewKind.Hosts => s with { HostSort = sort },
        _ => s with { ProcessSort = sort },
    };

    /// <summary>Keeps the selection on the same row when the data changes.</summary>
    private static TopState Follow(TopState before, TopState after)
    {
        string? id = SelectedId(before);
        if (id is null)
            return Clamp(after);
        int i = IndexOfId(after, id);
        return Clamp(i < 0 ? after : after with { Selected = i });
    }

    private static int IndexOfId(TopState s, string id) => IndexOf(RowIds(s), x => x == id);

    /// <summary>Selection within the rows, scroll so the selection is on screen and no page is half empty.</summary>
    public static TopState Clamp(TopState s)
    {
        int count = RowCount(s);
        int page = Math.Max(1, s.PageRows);
        int sel = Math.Clamp(s.Selected, 0, Math.Max(0, count - 1));
        int scroll = Math.Clamp(s.Scroll, 0, Math.Max(0, count - page));
        if (sel < scroll)
            scroll = sel;
        else if (sel >= scroll + page)
            scroll = sel - page + 1;
        return sel == s.Selected && scroll == s.Scroll ? s : s with { Selected = sel, Scroll = scroll };
    }

    private static int IndexOf<T>(IReadOnlyList<T> list, Func<T, bool> match)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (match(list[i]))
                return i;
        }
        return -1;
    }
}
