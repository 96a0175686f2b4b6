namespace Sysstream.Top.Model;

public enum CommandKind
{
    None,
    Quit,
    ShowProcesses,
    ShowConnections,
    ShowHosts,
    NextView,
    /// <summary>Enter: on a process, its connections.</summary>
    Open,
    /// <summary>Esc: leave help, a process's connections, a view.</summary>
    Back,
    SortNext,
    SortPrevious,
    SortBy,
    ReverseSort,
    StartFilter,
    FilterInput,
    FilterBackspace,
    FilterAccept,
    FilterCancel,
    TogglePause,
    ToggleHelp,
    ToggleCommandLine,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// <summary>The screen now has room for <see cref="TopCommand.Value"/> rows.</summary>
    Resize,
}

/// <summary>What the user asked for; produced by the key map, applied by <see cref="TopModel"/>.</summary>
public readonly record struct TopCommand(CommandKind Kind, char Char = '\0', int Value = 0, ColumnId Column = ColumnId.Activity)
{
    public static TopCommand Of(CommandKind kind) => new(kind);
    public static TopCommand Input(char c) => new(CommandKind.FilterInput, c);
    public static TopCommand SortBy(ColumnId column) => new(CommandKind.SortBy, Column: column);
    public static TopCommand Resize(int rows) => new(CommandKind.Resize, Value: rows);
}
