using Sysstream.Top.Model;

namespace Sysstream.Top.Input;

/// <summary>A key press, independent of the console that read it.</summary>
public readonly record struct TopKey(ConsoleKey Key, char Char, bool Control = false)
{
    public static TopKey Of(char c) => new(0, c);
    public static TopKey Of(ConsoleKey k) => new(k, '\0');
    public static TopKey From(ConsoleKeyInfo k) => new(k.Key, k.KeyChar, (k.Modifiers & ConsoleModifiers.Control) != 0);
}

/// <summary>
/// Keys to commands, a pure function of the key and the state (the filter line takes typed text).
/// The same table is shown by `?`.
/// </summary>
public static class KeyMap
{
    public static TopCommand Map(TopKey key, TopState state)
    {
        if (key.Control && (key.Key == ConsoleKey.C || key.Char == '\u0003'))
            return TopCommand.Of(CommandKind.Quit);
        TopCommand? nav = Navigation(key);
        if (state.EditingFilter)
        {
            if (key.Key == ConsoleKey.Enter || key.Char is '\r' or '\n')
                return TopCommand.Of(CommandKind.FilterAccept);
            if (key.Key == ConsoleKey.Escape || key.Char == '\u001b')
                return TopCommand.Of(CommandKind.FilterCancel);
            if (key.Key == ConsoleKey.Backspace || key.Char is '\b' or '\u007f')
                return TopCommand.Of(CommandKind.FilterBackspace);
            if (nav is { } n)
                return n;
            return key.Char != '\0' && !char.IsControl(key.Char) ? TopCommand.Input(key.Char) : default;
        }
        if (nav is { } move)
            return move;
        switch (key.Key)
        {
            case ConsoleKey.Enter:
                return TopCommand.Of(CommandKind.Open);
            case ConsoleKey.Escape:
            case ConsoleKey.Backspace:
            case ConsoleKey.LeftArrow:
                return TopCommand.Of(CommandKind.Back);
            case ConsoleKey.RightArrow:
                return TopCommand.Of(CommandKind.Open);
            case ConsoleKey.Tab:
                return TopCommand.Of(CommandKind.NextView);
            case ConsoleKey.F1:
                return TopCommand.Of(CommandKind.ToggleHelp);
        }
        char c = key.Char;
        switch (c)
        {
            case 'q': return TopCommand.Of(CommandKind.Quit);
            case '?': return TopCommand.Of(CommandKind.ToggleHelp);
            case 'c': case '2': return TopCommand.Of(CommandKind.ShowConnections);
            case 'h': case '3': return TopCommand.Of(CommandKind.ShowHosts);
            case '1': return TopCommand.Of(CommandKind.ShowProcesses);
            case '\r': case '\n': return TopCommand.Of(CommandKind.Open);
            case '\u001b': case '\b': case '\u007f': return TopCommand.Of(CommandKind.Back);
            case '\t': return TopCommand.Of(CommandKind.NextView);
            case 's': case '>': return TopCommand.Of(CommandKind.SortNext);
            case '<': return TopCommand.Of(CommandKind.SortPrevious);
            case 'r': return TopCommand.Of(CommandKind.ReverseSort);
            case '/': return TopCommand.Of(CommandKind.StartFilter);
            case 'p': case ' ': return TopCommand.Of(CommandKind.TogglePause);
            case 'a': return TopCommand.Of(CommandKind.ToggleCommandLine);
            case 'j': return TopCommand.Of(CommandKind.Down);
            case 'k': return TopCommand.Of(CommandKind.Up);
            case 'g': return TopCommand.Of(CommandKind.Home);
            case 'G': return TopCommand.Of(CommandKind.End);
        }
        if (c is >= 'A' and <= 'Z' && TopModel.ColumnOfKey(state.View, c) is ColumnId column)
            return TopCommand.SortBy(column);
        return default;
    }

    private static TopCommand? Navigation(TopKey key) => key.Key switch
    {
        ConsoleKey.UpArrow => TopCommand.Of(CommandKind.Up),
        ConsoleKey.DownArrow => TopCommand.Of(CommandKind.Down),
        ConsoleKey.PageUp => TopCommand.Of(CommandKind.PageUp),
        ConsoleKey.PageDown => TopCommand.Of(CommandKind.PageDown),
        ConsoleKey.Home => TopCommand.Of(CommandKind.Home),
        ConsoleKey.End => TopCommand.Of(CommandKind.End),
        _ => null,
    };

    /// <summary>The keys, for the help screen: (keys, what they do).</summary>
    public static IReadOnlyList<(string Keys, string Action)> Help { get; } =
    [
        ("q, Ctrl-C", "quit"),
        ("?, F1", "this help (any key closes it)"),
        ("1 / c / h, Tab", "processes / connections / remote hosts, next view"),
        ("Enter, Right", "on a process: its connections; on a host: connections to it"),
        ("Esc, Left, Backspace", "back (to processes; clears the filter)"),
        ("Up/Down, j/k", "move the selection"),
        ("PgUp/PgDn, Home/End", "page, first, last"),
        ("s, >  /  <", "sort by the next / previous column"),
        ("r", "reverse the order"),
        ("A-Z (see below)", "sort by that column (again: reverse)"),
        ("/", "filter rows by text (Enter keeps it, Esc clears it)"),
        ("p, Space", "pause / resume the display (counting goes on)"),
        ("a", "show the command line instead of the name"),
    ];
}
