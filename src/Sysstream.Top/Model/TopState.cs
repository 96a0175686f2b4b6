using Sysstream.Aggregation;

namespace Sysstream.Top.Model;

public enum TopViewKind
{
    Processes,
    Connections,
    Hosts,
}

/// <summary>A view's order: a column and a direction.</summary>
public readonly record struct SortSpec(ColumnId Column, bool Descending);

/// <summary>
/// Everything the screen shows, as a value: the data of the last interval and how the user looks
/// at it. Changed only by <see cref="TopModel"/>; no console, no locks, no BPF types.
/// </summary>
public sealed record TopState
{
    public TopFrame Frame { get; init; } = TopFrame.Empty;
    /// <summary>The newest frame that arrived while paused (shown on resume).</summary>
    public TopFrame? Held { get; init; }
    public TopViewKind View { get; init; } = TopViewKind.Processes;
    public SortSpec ProcessSort { get; init; } = new(ColumnId.Activity, true);
    public SortSpec ConnectionSort { get; init; } = new(ColumnId.Activity, true);
    public SortSpec HostSort { get; init; } = new(ColumnId.Activity, true);
    /// <summary>Only rows with this text in a column (case-insensitive); empty: all.</summary>
    public string Filter { get; init; } = "";
    /// <summary>The filter line has the keyboard.</summary>
    public bool EditingFilter { get; init; }
    public bool Paused { get; init; }
    public bool ShowHelp { get; init; }
    /// <summary>COMM shows the command line.</summary>
    public bool ShowCommandLine { get; init; }
    /// <summary>The connection view shows only this process's connections.</summary>
    public int? FocusPid { get; init; }
    /// <summary>The highlighted row (index into the visible rows) and the first row on screen.</summary>
    public int Selected { get; init; }
    public int Scroll { get; init; }
    /// <summary>Rows that fit on the screen (set by the view on resize); paging moves by this.</summary>
    public int PageRows { get; init; } = 20;
    public bool Quit { get; init; }

    public SortSpec Sort => View switch
    {
        TopViewKind.Connections => ConnectionSort,
        TopViewKind.Hosts => HostSort,
        _ => ProcessSort,
    };
}
