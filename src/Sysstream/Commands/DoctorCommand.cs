using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sysstream.Bpf;

namespace Sysstream.Cli.Commands;

/// <summary><c>sysstream doctor</c>: what this kernel offers and which path trace uses.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "Output format: table or json", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var mountTracefs = new Option<bool>("--mount-tracefs")
        {
            Description = "Mount tracefs at /sys/kernel/tracing if it is not mounted (classic tracepoints need it)",
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };

        var cmd = new Command("doctor", "Check the kernel: BTF, lockdown, hook types, tracefs, capabilities");
        cmd.Options.Add(output);
        cmd.Options.Add(mountTracefs);
        cmd.Options.Add(verbose);
        cmd.SetAction((parse, ct) => Task.FromResult(Run(
            new FeatureProbeOptions { MountTracefs = parse.GetValue(mountTracefs), Verbose = parse.GetValue(verbose) },
            parse.GetValue(output) == "json")));
        return cmd;
    }

    private static int Run(FeatureProbeOptions options, bool json)
    {
        FeatureReport report = Features.Probe(options);
        if (json)
        {
            using Stream stdout = Console.OpenStandardOutput();
            DoctorReport.WriteJson(report, stdout);
        }
        else
        {
            DoctorReport.WriteTable(report, Console.Out);
            Console.Out.Flush();
        }
        if (!report.Privileged)
        {
            Console.Error.WriteLine("sysstream: hook probes skipped: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)");
            Console.Error.WriteLine("hint: sudo sysstream doctor");
        }
        return DoctorReport.ExitCode(report);
    }
}

/// <summary>Prints a <see cref="FeatureReport"/> as an aligned table or as one JSON object.</summary>
internal static class DoctorReport
{
    /// <summary>0 when trace can run, 77 when this process may not probe (not root), 69 when the kernel lacks what trace needs.</summary>
    public static int ExitCode(FeatureReport r) =>
        r.TraceCanRun ? ExitCodes.Ok : !r.Privileged ? ExitCodes.NoPermission : ExitCodes.Unavailable;

    public static string Verdict(FeatureReport r) =>
        r.TraceCanRun ? $"trace will use: {r.TracePath}" : $"trace cannot run: {r.TraceProblem}";

    public static string Status(HookStatus s) => s switch
    {
        HookStatus.Yes => "yes",
        HookStatus.No => "no",
        _ => "skipped",
    };

    private static string YesNo(bool b) => b ? "yes" : "no";

    /// <summary>A row: label, value and an optional detail; blank rows separate groups.</summary>
    private readonly record struct Row(string Label, string Value, string Detail = "");

    public static IReadOnlyList<(string Label, string Value, string Detail)> Rows(FeatureReport r)
    {
        var rows = new List<Row>
        {
            new("kernel", r.KernelRelease),
            new("architecture", r.Architecture),
            new("BTF", YesNo(r.BtfSize is not null), r.BtfSize is long size
                ? $"{r.BtfPath}, {size.ToString(CultureInfo.InvariantCulture)} bytes"
                : $"{r.BtfPath} is missing"),
            new("lockdown", r.Lockdown),
            new("tracefs", YesNo(r.TracefsMounted), r.TracefsDetail),
            default,
        };
        foreach (HookProbe h in r.Hooks)
        {
            if (h.Status == HookStatus.Skipped)
                rows.Add(new(h.Label, $"skipped ({h.Detail})"));
            else
                rows.Add(new(h.Label, Status(h.Status), h.Target.Length > 0 ? $"{h.Target}: {h.Detail}" : h.Detail));
        }
        rows.Add(default);
        rows.Add(new("capabilities", $"CapEff {r.CapEff:x16}"));
        foreach (CapabilityState c in r.Capabilities)
            rows.Add(new(c.Name, YesNo(c.Effective)));
        rows.Add(default);
        rows.Add(new("libbpf", r.LibbpfVersion ?? "not found (libbpf.so.1)"));
        rows.Add(new("cgroup v2", r.Cgroup2Mount ?? "not mounted"));
        return rows.Select(x => (x.Label ?? "", x.Value ?? "", x.Detail ?? "")).ToList();
    }

    /// <summary>
    /// Labels in one column; values and details aligned among the rows that have a detail, so a
    /// long fact (the kernel release) does not push the hooks' details to the right.
    /// </summary>
    public static void WriteTable(FeatureReport r, TextWriter w)
    {
        var rows = Rows(r);
        int labelWidth = rows.Max(x => x.Label.Length) + 2;
        int valueWidth = rows.Where(x => x.Detail.Length > 0).Select(x => x.Value.Length).DefaultIfEmpty(0).Max() + 2;
        var line = new StringBuilder();
        foreach ((string label, string value, string detail) in rows)
        {
            line.Clear();
            if (label.Length > 0)
            {
                line.Append(label.PadRight(labelWidth));
                line.Append(detail.Length > 0 ? value.PadRight(valueWidth) + detail : value);
            }
            w.WriteLine(line.ToString().TrimEnd());
        }
        w.WriteLine();
        w.WriteLine(Verdict(r));
    }

    public static void WriteJson(FeatureReport r, Stream stream)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            WriteJson(r, w);
        stream.WriteByte((byte)'\n');
        stream.Flush();
    }

    public static void WriteJson(FeatureReport r, Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kernel", r.KernelRelease);
        w.WriteString("arch", r.Architecture);

        w.WriteStartObject("btf");
        w.WriteString("path", r.BtfPath);
        w.WriteBoolean("present", r.BtfSize is not null);
        if (r.BtfSize is long size)
            w.WriteNumber("size", size);
        else
            w.WriteNull("size");
        w.WriteEndObject();

        w.WriteStartObject("lockdown");
        WriteStringOrNull(w, "mode", r.LockdownMode);
        w.WriteString("detail", r.Lockdown);
        w.WriteEndObject();

        w.WriteStartObject("tracefs");
        w.WriteString("path", r.TracefsPath);
        w.WriteBoolean("mounted", r.TracefsMounted);
        w.WriteBoolean("mounted_now", r.TracefsMountedNow);
        w.WriteString("detail", r.TracefsDetail);
        w.WriteEndObject();

        w.WriteStartObject("hooks");
        foreach (HookProbe h in r.Hooks)
        {
            w.WriteStartObject(h.Id);
            w.WriteString("status", Status(h.Status));
            w.WriteString("target", h.Target);
            w.WriteString("detail", h.Detail);
            w.WriteEndObject();
        }
        w.WriteEndObject();

        w.WriteBoolean("privileged", r.Privileged);
        w.WriteStartObject("capabilities");
        w.WriteString("cap_eff", r.CapEff.ToString("x16", CultureInfo.InvariantCulture));
        foreach (CapabilityState c in r.Capabilities)
            w.WriteBoolean(c.Name, c.Effective);
        w.WriteEndObject();

        WriteStringOrNull(w, "libbpf", r.LibbpfVersion);
        WriteStringOrNull(w, "cgroup2", r.Cgroup2Mount);

        w.WriteStartObject("trace");
        w.WriteBoolean("can_run", r.TraceCanRun);
        WriteStringOrNull(w, "path", r.TracePath);
        WriteStringOrNull(w, "problem", r.TraceProblem);
        w.WriteEndObject();

        w.WriteNumber("exit_code", ExitCode(r));
        w.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
            w.WriteNull(name);
        else
            w.WriteString(name, value);
    }
}
