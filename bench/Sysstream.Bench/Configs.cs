namespace Sysstream.Bench;

public enum TracerKind
{
    None,
    Trace,
    Top,
    Capture,
    Bpftrace,
    /// <summary>A view's hooks with empty programs (ss-bench-hooks): the floor of its design.</summary>
    Floor,
}

/// <summary>Where one run's files go.</summary>
public sealed record RunFiles(string Dir)
{
    public string Stdout => Path.Combine(Dir, "stdout");
    public string Stderr => Path.Combine(Dir, "stderr");
    public string Stats => Path.Combine(Dir, "stats.json");
    public string Capture => Path.Combine(Dir, "capture.pcapng");
}

/// <summary>One way of running (or not running) a tracer during a workload.</summary>
public sealed record TracerConfig(string Id, string Label, TracerKind Kind, string? Subcommand)
{
    /// <summary>Another sysstream executable to run instead (`--compare-exe`: A/B runs of two
    /// builds, interleaved like the rest).</summary>
    public string? ExeOverride { get; init; }

    /// <summary>The configuration this one varies (its own id unless it is a `--compare-exe` twin).</summary>
    public string BaseId { get; init; } = Id;

    /// <summary>The twin of this configuration that runs <paramref name="exe"/>.</summary>
    public TracerConfig WithExe(string exe) => this with
    {
        Id = Id + "@b",
        Label = Label + " [B]",
        ExeOverride = exe,
        BaseId = BaseId,
    };

    /// <summary>The comm used by the filter that matches nothing.</summary>
    public const string NoMatchComm = "ss-nonexistent";

    /// <summary>Printed by the bpftrace script's BEGIN probe, which runs once every probe is attached.</summary>
    public const string BpftraceMarker = "ss-bench: attached";

    /// <summary>The reference a user would reach for: bpftrace printing each send and receive
    /// with its process context, from the sock tracepoints (kprobes/kfuncs do not work here).</summary>
    public const string BpftraceScript =
        "BEGIN { printf(\"" + BpftraceMarker + "\\n\"); } " +
        "tracepoint:sock:sock_send_length { printf(\"%llu send %d %d %d %d %s %d %d %d %d\\n\", nsecs, pid, tid, uid, cpu, comm, args->family, args->protocol, args->ret, args->flags); } " +
        "tracepoint:sock:sock_recv_length { printf(\"%llu recv %d %d %d %d %s %d %d %d %d\\n\", nsecs, pid, tid, uid, cpu, comm, args->family, args->protocol, args->ret, args->flags); }";

    public static readonly IReadOnlyList<TracerConfig> All =
    [
        new("off", "no tracer", TracerKind.None, null),
        new("trace-json", "`sysstream trace -o json > file`", TracerKind.Trace, "trace"),
        new("trace-nomatch", $"`sysstream trace --comm {NoMatchComm}` (filter matching nothing)", TracerKind.Trace, "trace"),
        new("hooks-floor", "empty programs on tp_btf/sys_enter + sys_exit (the hooks' own cost)", TracerKind.Floor, null),
        new("top", "`sysstream top -o json > file`", TracerKind.Top, "top"),
        new("top-floor", "empty programs on tp_btf/sock_send_length + sock_recv_length (top's hooks' own cost)", TracerKind.Floor, null),
        new("capture", "`sysstream capture -w file -s 64`", TracerKind.Capture, "capture"),
        new("bpftrace", "bpftrace printing each send/recv (sock tracepoints)", TracerKind.Bpftrace, null),
    ];

    public bool IsBaseline => Kind == TracerKind.None;

    /// <summary>The BPF object of a floor configuration (built by bench/run.sh).</summary>
    public string FloorObject => BaseId == "top-floor" ? "ss-bench-top-hooks.bpf.o" : "ss-bench-hooks.bpf.o";

    /// <summary>The command to launch (argv), or null for no tracer.</summary>
    public string[]? Argv(string exe, string tools, RunFiles f) => ArgvOf(ExeOverride ?? exe, tools, f);

    private string[]? ArgvOf(string exe, string tools, RunFiles f) => BaseId switch
    {
        "off" => null,
        "hooks-floor" or "top-floor" => [Path.Combine(tools, "ss-bench-hooks"), Path.Combine(tools, FloorObject)],
        "trace-json" => [exe, "trace", "-o", "json", "--stats-json", f.Stats],
        "trace-nomatch" => [exe, "trace", "--comm", NoMatchComm, "--stats-json", f.Stats],
        "top" => [exe, "top", "-o", "json"],
        "capture" => [exe, "capture", "-w", f.Capture, "-s", "64"],
        "bpftrace" => ["bpftrace", "-e", BpftraceScript],
        _ => throw new ArgumentException($"unknown configuration {Id}"),
    };

    /// <summary>The command as a person would type it, for the report.</summary>
    public string CommandText => (ExeOverride is null ? "" : $"[B = {ExeOverride}] ") + BaseId switch
    {
        "off" => "",
        "hooks-floor" or "top-floor" => $"ss-bench-hooks {FloorObject} (bench/workloads)",
        "trace-json" => "sysstream trace -o json --stats-json S > FILE",
        "trace-nomatch" => $"sysstream trace --comm {NoMatchComm} --stats-json S > FILE",
        "top" => "sysstream top -o json > FILE",
        "capture" => "sysstream capture -w FILE -s 64",
        "bpftrace" => "bpftrace -e '" + BpftraceScript + "' > FILE",
        _ => BaseId,
    };

    /// <summary>The line that says the tracer is attached: sysstream's on stderr, the BEGIN
    /// probe's on stdout for bpftrace.</summary>
    public (string Marker, bool OnStdout) Ready => Kind == TracerKind.Bpftrace
        ? (BpftraceMarker, true)
        : ("attached", false);
}
