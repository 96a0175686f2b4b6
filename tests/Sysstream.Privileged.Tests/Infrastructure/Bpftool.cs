using System.Text.Json;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>What the kernel holds, as `bpftool -j` lists it.</summary>
public static class Bpftool
{
    public sealed record KernelObject(long Id, string Name, string Kind)
    {
        public override string ToString() => $"{Kind} {Id} {Name}";
    }

    /// <summary>Programs and maps whose name starts with <paramref name="prefix"/>.</summary>
    public static async Task<IReadOnlyList<KernelObject>> ListAsync(string prefix = "ss_")
    {
        var result = new List<KernelObject>();
        foreach (string kind in new[] { "prog", "map" })
        {
            ProcessOutcome o = await Workload.RunAsync(Tools.Bpftool, ["-j", kind, "show"], TimeSpan.FromSeconds(30));
            if (o.ExitCode != 0)
                throw new XunitException($"bpftool {kind} show failed: {o}");
            using var doc = JsonDocument.Parse(o.Stdout.Length == 0 ? "[]" : o.Stdout);
            foreach (JsonElement e in doc.RootElement.EnumerateArray())
            {
                string name = e.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? "" : "";
                if (name.StartsWith(prefix, StringComparison.Ordinal))
                    result.Add(new KernelObject(e.GetProperty("id").GetInt64(), name, kind));
            }
        }
        return result;
    }

    /// <summary>Ids of BPF links whose program is one of <paramref name="progIds"/>.</summary>
    public static async Task<IReadOnlyList<long>> LinksOfAsync(IEnumerable<long> progIds)
    {
        var ids = progIds.ToHashSet();
        ProcessOutcome o = await Workload.RunAsync(Tools.Bpftool, ["-j", "link", "show"], TimeSpan.FromSeconds(30));
        if (o.ExitCode != 0)
            throw new XunitException($"bpftool link show failed: {o}");
        using var doc = JsonDocument.Parse(o.Stdout.Length == 0 ? "[]" : o.Stdout);
        return doc.RootElement.EnumerateArray()
            .Where(e => e.TryGetProperty("prog_id", out JsonElement p) && ids.Contains(p.GetInt64()))
            .Select(e => e.GetProperty("id").GetInt64())
            .ToList();
    }
}
