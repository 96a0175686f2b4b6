using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Sysstream.Filters;

namespace Sysstream.Cli.Commands;

/// <summary>Options shared by the commands that trace: the filters and the run length.</summary>
internal sealed class FilterOptions
{
    public Option<int[]> Pid { get; } = new("--pid", "-p") { Description = "Trace only this process id (repeatable)", AllowMultipleArgumentsPerToken = false };
    public Option<string[]> Comm { get; } = new("--comm", "-c") { Description = "Trace only processes with this name (repeatable)" };
    public Option<string?> Uid { get; } = new("--uid", "-u") { Description = "Trace only this user (id or name)" };
    public Option<int[]> Port { get; } = new("--port") { Description = "Only sockets with this local or remote port (repeatable)" };
    public Option<string[]> Addr { get; } = new("--addr") { Description = "Only sockets with this local or remote IP address (repeatable)" };
    public Option<string?> Family { get; } = new("--family") { Description = "Only this address family: 4, 6 or unix" };
    public Option<string?> Proto { get; } = new("--proto") { Description = "Only this protocol: tcp or udp" };
    public Option<string?> Cgroup { get; } = new("--cgroup") { Description = "Only processes in this cgroup v2 (path, or relative to the cgroup2 mount) and below" };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { Pid, Comm, Uid, Port, Addr, Family, Proto, Cgroup })
            command.Options.Add(o);
    }

    public TraceFilter Parse(ParseResult r) => TraceFilter.Parse(
        r.GetValue(Pid), r.GetValue(Comm), r.GetValue(Uid), r.GetValue(Port), r.GetValue(Addr),
        r.GetValue(Family), r.GetValue(Proto), r.GetValue(Cgroup));
}

internal static class Durations
{
    /// <summary>Parses "10s", "500ms", "2m", "1h", "1.5s" or a plain number of seconds.</summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        string t = text.Trim().ToLowerInvariant();
        (string num, double scale) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], 0.001),
            _ when t.EndsWith("us", StringComparison.Ordinal) => (t[..^2], 0.000001),
            _ when t.EndsWith('s') => (t[..^1], 1.0),
            _ when t.EndsWith('m') => (t[..^1], 60.0),
            _ when t.EndsWith('h') => (t[..^1], 3600.0),
            _ => (t, 1.0),
        };
        if (!double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n <= 0 || double.IsInfinity(n))
            return false;
        value = TimeSpan.FromSeconds(n * scale);
        return true;
    }

    public static Option<TimeSpan?> CreateOption(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = ParseArgument,
    };

    private static TimeSpan? ParseArgument(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out TimeSpan value))
            return value;
        result.AddError($"bad duration '{text}' for {((OptionResult?)result.Parent)?.Option.Name}: use e.g. 10s, 500ms, 2m");
        return null;
    }
}
