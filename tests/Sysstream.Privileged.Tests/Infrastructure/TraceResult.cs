using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>Everything a finished `sysstream trace -o json` run produced.</summary>
public sealed partial class TraceResult
{
    public TraceResult(int exitCode, IReadOnlyList<string> stdout, IReadOnlyList<string> stderr, string? savedTo)
    {
        ExitCode = exitCode;
        StdoutLines = stdout;
        StderrLines = stderr;
        SavedTo = savedTo;
        var all = new List<TraceEvent>(stdout.Count);
        for (int i = 0; i < stdout.Count; i++)
        {
            string line = stdout[i];
            JsonElement json;
            try
            {
                using var doc = JsonDocument.Parse(line);
                json = doc.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw new XunitException($"stdout line {i} is not JSON ({ex.Message}): {Truncate(line)}\n{Describe()}");
            }
            if (json.ValueKind != JsonValueKind.Object)
                throw new XunitException($"stdout line {i} is not a JSON object: {Truncate(line)}");
            all.Add(new TraceEvent(json, i));
        }
        All = all;
        Events = all.Where(e => !e.IsLost).ToList();
        Lost = all.Where(e => e.IsLost).ToList();
        foreach (string line in stderr)
        {
            Match m = SummaryPattern().Match(line);
            if (m.Success)
            {
                SummaryLine = line;
                SummaryEvents = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                SummaryLost = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }
    }

    public int ExitCode { get; }
    public IReadOnlyList<string> StdoutLines { get; }
    public IReadOnlyList<string> StderrLines { get; }

    /// <summary>Where the whole stdout was saved for a post-mortem, if it was.</summary>
    public string? SavedTo { get; }

    /// <summary>Every JSON line, in output order.</summary>
    public IReadOnlyList<TraceEvent> All { get; }

    /// <summary>System call records (everything but "lost").</summary>
    public IReadOnlyList<TraceEvent> Events { get; }

    /// <summary>The {"func":"lost",...} records.</summary>
    public IReadOnlyList<TraceEvent> Lost { get; }

    /// <summary>The stderr line "sysstream: N events, M lost (...)"; null if none was printed.</summary>
    public string? SummaryLine { get; }
    public long SummaryEvents { get; } = -1;
    public long SummaryLost { get; } = -1;

    public string? AttachedLine => StderrLines.FirstOrDefault(l => l.StartsWith(TraceRun.AttachedPrefix, StringComparison.Ordinal));

    [GeneratedRegex(@"^sysstream: (\d+) events, (\d+) lost\b")]
    private static partial Regex SummaryPattern();

    public IEnumerable<TraceEvent> OfPid(long pid) => Events.Where(e => e.Pid == pid);

    /// <summary>A short account of the run for failure messages: exit code, stderr, where stdout is.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"exit code {ExitCode}; {StdoutLines.Count} stdout lines");
        if (SavedTo is not null)
            sb.Append(CultureInfo.InvariantCulture, $" (saved to {SavedTo})");
        sb.AppendLine();
        foreach (string l in StderrLines.Take(20))
            sb.Append("stderr: ").AppendLine(l);
        return sb.ToString();
    }

    /// <summary>Events as JSON lines for failure messages, at most <paramref name="max"/>.</summary>
    public static string Show(IEnumerable<TraceEvent> events, int max = 40)
    {
        var sb = new StringBuilder();
        int n = 0;
        foreach (TraceEvent e in events)
        {
            if (n++ == max)
            {
                sb.AppendLine("...");
                break;
            }
            sb.AppendLine(e.ToString());
        }
        return n == 0 ? "(no events)\n" : sb.ToString();
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "...";
}
