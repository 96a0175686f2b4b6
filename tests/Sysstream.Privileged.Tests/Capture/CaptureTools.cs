using System.Globalization;
using System.Text;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Capture;

/// <summary>One end of a packet as its comment tells it: "sysstream: dir=out pid=.. comm=..".</summary>
public sealed class PacketEnd
{
    public required IReadOnlyDictionary<string, string> Fields { get; init; }
    public string Dir => Fields.GetValueOrDefault("dir", "");
    public long? Pid => Fields.TryGetValue("pid", out string? v) ? long.Parse(v, CultureInfo.InvariantCulture) : null;
    public string? Comm => Fields.GetValueOrDefault("comm");
    public bool HasProcess => Pid is not null;
    public override string ToString() => string.Join(' ', Fields.Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>Parses one comment; null when it is not sysstream's. Values may be quoted
    /// ("a b", with \" \\ \n \t \xHH escapes), as the writer quotes them.</summary>
    public static PacketEnd? Parse(string comment)
    {
        const string Prefix = "sysstream: ";
        if (!comment.StartsWith(Prefix, StringComparison.Ordinal))
            return null;
        var fields = new Dictionary<string, string>();
        string s = comment[Prefix.Length..];
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && s[i] == ' ')
                i++;
            int eq = s.IndexOf('=', i);
            if (eq < 0)
                break;
            string key = s[i..eq];
            i = eq + 1;
            var value = new StringBuilder();
            if (i < s.Length && s[i] == '"')
            {
                for (i++; i < s.Length && s[i] != '"'; i++)
                {
                    if (s[i] == '\\' && i + 1 < s.Length)
                    {
                        char n = s[++i];
                        if (n == 'x' && i + 2 < s.Length)
                        {
                            value.Append((char)Convert.ToInt32(s.Substring(i + 1, 2), 16));
                            i += 2;
                        }
                        else
                        {
                            value.Append(n switch { 'n' => '\n', 't' => '\t', _ => n });
                        }
                    }
                    else
                    {
                        value.Append(s[i]);
                    }
                }
                i++;
            }
            else
            {
                int sp = s.IndexOf(' ', i);
                if (sp < 0)
                    sp = s.Length;
                value.Append(s[i..sp]);
                i = sp;
            }
            fields[key] = value.ToString();
        }
        return new PacketEnd { Fields = fields };
    }
}

/// <summary>One frame as tshark dissected it: its number, the requested fields and our ends.</summary>
public sealed class Frame
{
    public required int Number { get; init; }
    public required IReadOnlyDictionary<string, string[]> Fields { get; init; }
    public IReadOnlyList<PacketEnd> Ends => (Fields.GetValueOrDefault("frame.comment") ?? []).Select(PacketEnd.Parse).OfType<PacketEnd>().ToList();
    public string? Field(string name) => Fields.TryGetValue(name, out string[]? v) && v.Length > 0 ? v[0] : null;
    public int? IntField(string name) => Field(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;
    public override string ToString() => $"frame {Number}: " + string.Join("; ", Fields.Select(kv => $"{kv.Key}=[{string.Join(" | ", kv.Value)}]"));
}

/// <summary>Debian's tshark, the independent reader of what sysstream writes.</summary>
public static class Tshark
{
    public static string Path => Tools.Require("tshark", "/usr/bin/tshark");

    public static string LuaPlugin
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = System.IO.Path.Combine(dir.FullName, "src", "Sysstream.Capture", "wireshark", "sysstream.lua");
                if (File.Exists(candidate))
                    return candidate;
            }
            throw new XunitException("src/Sysstream.Capture/wireshark/sysstream.lua not found above the test directory");
        }
    }

    /// <summary>tshark's stderr without the line it always prints when run as root.</summary>
    public static string Warnings(string stderr) => string.Join('\n', stderr.Split('\n')
        .Where(l => l.Trim().Length > 0 && !l.StartsWith("Running as user", StringComparison.Ordinal)));

    /// <summary>Reads a file: the frames matching <paramref name="filter"/>, with these fields (JSON output, so
    /// comments holding commas stay whole). Fails on any warning or error tshark prints.</summary>
    public static async Task<List<Frame>> FramesAsync(string file, string filter, IEnumerable<string> fields, bool lua = false)
    {
        var args = new List<string> { "-r", file, "-T", "json", "-e", "frame.number" };
        if (lua)
            args.InsertRange(0, ["-X", "lua_script:" + LuaPlugin]);
        if (filter.Length > 0)
            args.AddRange(["-Y", filter]);
        foreach (string f in fields)
            args.AddRange(["-e", f]);
        ProcessOutcome o = await Workload.RunAsync(Path, args, TimeSpan.FromSeconds(60));
        if (o.ExitCode != 0 || Warnings(o.Stderr).Length > 0)
            throw new XunitException($"tshark {string.Join(' ', args)} failed or warned:\n{o}");
        var frames = new List<Frame>();
        if (o.Stdout.Trim().Length == 0)
            return frames;
        using var doc = JsonDocument.Parse(o.Stdout);
        foreach (JsonElement packet in doc.RootElement.EnumerateArray())
        {
            JsonElement layers = packet.GetProperty("_source").GetProperty("layers");
            var values = new Dictionary<string, string[]>();
            foreach (JsonProperty p in layers.EnumerateObject())
                values[p.Name] = p.Value.ValueKind == JsonValueKind.Array ? p.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToArray() : [p.Value.GetString() ?? ""];
            frames.Add(new Frame { Number = int.Parse(values["frame.number"][0], CultureInfo.InvariantCulture), Fields = values });
        }
        return frames;
    }

    /// <summary>Plain `tshark -r FILE`: must read to the end with exit 0 and not one warning.</summary>
    public static async Task<int> ReadCleanlyAsync(string file)
    {
        ProcessOutcome o = await Workload.RunAsync(Path, ["-r", file], TimeSpan.FromSeconds(60));
        Assert.True(o.ExitCode == 0 && Warnings(o.Stderr).Length == 0, $"tshark -r {file} did not read it cleanly:\n{o}");
        return o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}

/// <summary>Runs `sysstream capture` into a file and stops it.</summary>
public static class CaptureRun
{
    public static async Task<TraceRun> StartAsync(Xunit.Abstractions.ITestOutputHelper log, string file, IEnumerable<string> args,
        [System.Runtime.CompilerServices.CallerMemberName] string name = "") =>
        await TraceRun.StartAsync(log, ["capture", "-w", file, .. args], name: name);

    /// <summary>The summary line "sysstream: N packets (...)".</summary>
    public static string Summary(TraceResult r) =>
        r.StderrLines.LastOrDefault(l => l.Contains(" packets (", StringComparison.Ordinal)) ?? throw new XunitException($"no capture summary\n{r.Describe()}");
}
