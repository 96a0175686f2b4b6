using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>The outcome of one hook probe.</summary>
public enum HookStatus
{
    Yes,
    No,
    /// <summary>Not tried: this process may not load BPF programs.</summary>
    Skipped,
}

/// <summary>
/// One hook kind, really tried on this kernel. <see cref="Id"/> is the stable key ("tp_btf",
/// "raw_tracepoint", ...), <see cref="Label"/> the human name, <see cref="Target"/> what was tried
/// (the program's section, e.g. "tp_btf/sys_enter"), <see cref="Detail"/> what happened
/// ("loads and attaches", "attach: ENOENT (tracefs not mounted)").
/// </summary>
public sealed record HookProbe(string Id, string Label, string Target, HookStatus Status, string Detail);

/// <summary>One capability of interest and whether the process has it in its effective set.</summary>
public sealed record CapabilityState(string Name, int Number, bool Effective);

/// <summary>What <see cref="Features.Probe"/> found; a plain value, printed by the doctor command.</summary>
public sealed record FeatureReport
{
    public required string KernelRelease { get; init; }
    public required string Architecture { get; init; }
    public required string BtfPath { get; init; }
    /// <summary>Size of the kernel's BTF in bytes; null when the kernel exposes none.</summary>
    public long? BtfSize { get; init; }
    /// <summary>"none", "integrity" or "confidentiality"; null when it cannot be read.</summary>
    public string? LockdownMode { get; init; }
    /// <summary>The mode, or why it is unknown ("unknown (securityfs not mounted)").</summary>
    public required string Lockdown { get; init; }
    public required string TracefsPath { get; init; }
    public required bool TracefsMounted { get; init; }
    /// <summary>True when this run mounted tracefs (<c>--mount-tracefs</c>).</summary>
    public bool TracefsMountedNow { get; init; }
    public required string TracefsDetail { get; init; }
    /// <summary>Root, or CAP_BPF with CAP_PERFMON: allowed to load BPF programs, so hooks were probed.</summary>
    public required bool Privileged { get; init; }
    public required ulong CapEff { get; init; }
    public required IReadOnlyList<CapabilityState> Capabilities { get; init; }
    public required IReadOnlyList<HookProbe> Hooks { get; init; }
    /// <summary>"major.minor" of the libbpf.so.1 in use; null when it cannot be loaded.</summary>
    public string? LibbpfVersion { get; init; }
    public string? Cgroup2Mount { get; init; }
    public required bool TraceCanRun { get; init; }
    /// <summary>The attach path trace uses, when it can run.</summary>
    public string? TracePath { get; init; }
    /// <summary>Why trace cannot run, when it cannot.</summary>
    public string? TraceProblem { get; init; }

    public HookProbe? Hook(string id) => Hooks.FirstOrDefault(h => h.Id == id);
}

/// <summary>How <see cref="Features.Probe"/> runs.</summary>
public sealed record FeatureProbeOptions
{
    /// <summary>Mount tracefs at /sys/kernel/tracing when it is not mounted (needs CAP_SYS_ADMIN).</summary>
    public bool MountTracefs { get; init; }
    /// <summary>Print libbpf's messages to stderr; otherwise they are kept quiet.</summary>
    public bool Verbose { get; init; }
}

/// <summary>
/// Finds out what this kernel offers to sysstream: reads the plain facts (release, BTF, lockdown,
/// mounts, capabilities) and tries each hook kind for real with the embedded probe object
/// (bpf/probe.bpf.c): one program enabled, loaded, attached where that is harmless, released.
/// </summary>
public static unsafe class Features
{
    public const string ProbeResource = "probe.bpf.o";
    public const string TracefsDir = "/sys/kernel/tracing";
    public const string LockdownFile = "/sys/kernel/security/lockdown";
    public const string TracePathTpBtf = "tp_btf (sys_enter/sys_exit)";
    public const string NeedsRoot = "needs root";

    public const int CAP_NET_ADMIN = 12, CAP_SYS_ADMIN = 21, CAP_PERFMON = 38, CAP_BPF = 39;

    private const int EPERM = 1, ENOENT = 2, ENOTSUPP = 524;
    private const string KprobePmu = "/sys/bus/event_source/devices/kprobe";

    /// <summary>One program of the probe object and whether attaching it is harmless.</summary>
    private sealed record ProgramProbe(string Id, string Label, string Program, bool Attach);

    private static readonly ProgramProbe[] s_programs =
    [
        new("tp_btf", "tp_btf", "ss_probe_tpbtf", Attach: true),
        new("raw_tracepoint", "raw tracepoint", "ss_probe_rawtp", Attach: true),
        new("tracepoint", "tracepoint", "ss_probe_tp", Attach: true),
        new("kprobe", "kprobe", "ss_probe_kprobe", Attach: true),
        new("fentry", "fentry", "ss_probe_fentry", Attach: true),
        new("iter", "iterator", "ss_probe_iter", Attach: true),
        new("cgroup_skb", "cgroup_skb", "ss_probe_cgskb", Attach: false),
        new("cgroup_sock_addr", "sock_addr", "ss_probe_sockaddr", Attach: false),
        new("tc", "tc", "ss_probe_tc", Attach: false),
    ];

    /// <summary>The hooks in report order: ring buffer after the tracing hooks, before the network ones.</summary>
    public static readonly IReadOnlyList<(string Id, string Label)> HookOrder =
    [
        ("tp_btf", "tp_btf"), ("raw_tracepoint", "raw tracepoint"), ("tracepoint", "tracepoint"),
        ("kprobe", "kprobe"), ("fentry", "fentry"), ("iter", "iterator"), ("ringbuf", "ring buffer"),
        ("cgroup_skb", "cgroup_skb"), ("cgroup_sock_addr", "sock_addr"), ("tc", "tc"),
    ];

    public static FeatureReport Probe(FeatureProbeOptions options)
    {
        string mounts = ReadOr("/proc/self/mounts", "");
        ulong capEff = Preflight.EffectiveCapabilities();
        bool privileged = CanLoadBpf(capEff);

        long? btfSize = File.Exists(Preflight.VmlinuxBtf) ? new FileInfo(Preflight.VmlinuxBtf).Length : null;
        (string? lockMode, string lockText) = ReadLockdown(mounts);

        string? tracefsAt = FindMount(mounts, "tracefs", TracefsDir, "/sys/kernel/debug/tracing");
        bool mountedNow = false;
        string tracefsDetail;
        if (tracefsAt is not null)
        {
            tracefsDetail = $"mounted at {tracefsAt}";
        }
        else if (!options.MountTracefs)
        {
            tracefsDetail = $"not mounted at {TracefsDir} (--mount-tracefs mounts it)";
        }
        else if (!Preflight.Has(capEff, CAP_SYS_ADMIN))
        {
            tracefsDetail = $"not mounted at {TracefsDir}; mounting it needs root";
        }
        else
        {
            string? error = MountTracefs();
            if (error is null)
            {
                tracefsAt = TracefsDir;
                mountedNow = true;
                tracefsDetail = $"mounted at {TracefsDir} (by --mount-tracefs)";
            }
            else
            {
                tracefsDetail = $"not mounted at {TracefsDir}; mounting failed: {error}";
            }
        }

        string? libbpfVersion = null;
        string? libbpfProblem = null;
        try
        {
            libbpfVersion = $"{Libbpf.libbpf_major_version()}.{Libbpf.libbpf_minor_version()}";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            libbpfProblem = "libbpf.so.1 not found";
        }

        var facts = new ProbeFacts(tracefsAt is not null, lockMode);
        List<HookProbe> hooks;
        if (libbpfProblem is not null)
            hooks = HookOrder.Select(h => new HookProbe(h.Id, h.Label, "", HookStatus.No, libbpfProblem)).ToList();
        else if (!privileged)
            hooks = HookOrder.Select(h => new HookProbe(h.Id, h.Label, "", HookStatus.Skipped, NeedsRoot)).ToList();
        else
            hooks = ProbeHooks(options.Verbose, facts);

        (bool canRun, string? path, string? problem) = Verdict(
            privileged, btfSize is not null, libbpfProblem,
            hooks.First(h => h.Id == "tp_btf"), hooks.First(h => h.Id == "ringbuf"));

        return new FeatureReport
        {
            KernelRelease = ReadOr("/proc/sys/kernel/osrelease", "unknown").Trim(),
            Architecture = Architecture(),
            BtfPath = Preflight.VmlinuxBtf,
            BtfSize = btfSize,
            LockdownMode = lockMode,
            Lockdown = lockText,
            TracefsPath = tracefsAt ?? TracefsDir,
            TracefsMounted = tracefsAt is not null,
            TracefsMountedNow = mountedNow,
            TracefsDetail = tracefsDetail,
            Privileged = privileged,
            CapEff = capEff,
            Capabilities = DecodeCapabilities(capEff),
            Hooks = hooks,
            LibbpfVersion = libbpfVersion,
            Cgroup2Mount = FindMountOfType(mounts, "cgroup2"),
            TraceCanRun = canRun,
            TracePath = path,
            TraceProblem = problem,
        };
    }

    // ------------------------------------------------------------ decisions (pure, unit-tested)

    /// <summary>Whether trace can run, the path it takes, or why not.</summary>
    public static (bool CanRun, string? Path, string? Problem) Verdict(
        bool privileged, bool btf, string? libbpfProblem, HookProbe tpBtf, HookProbe ringbuf)
    {
        if (libbpfProblem is not null)
            return (false, null, libbpfProblem + " (install libbpf1)");
        if (!privileged)
            return (false, null, "loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)");
        if (!btf)
            return (false, null, $"the kernel exposes no BTF ({Preflight.VmlinuxBtf} is missing; needs CONFIG_DEBUG_INFO_BTF=y)");
        if (tpBtf.Status != HookStatus.Yes)
            return (false, null, $"tp_btf does not work here ({tpBtf.Detail})");
        if (ringbuf.Status != HookStatus.Yes)
            return (false, null, $"no BPF ring buffer ({ringbuf.Detail})");
        return (true, TracePathTpBtf, null);
    }

    /// <summary>Root, or CAP_BPF with CAP_PERFMON (what loading tracing programs takes).</summary>
    public static bool CanLoadBpf(ulong capEff) =>
        Preflight.Has(capEff, CAP_SYS_ADMIN) || (Preflight.Has(capEff, CAP_BPF) && Preflight.Has(capEff, CAP_PERFMON));

    /// <summary>The capabilities that matter to sysstream, in report order.</summary>
    public static IReadOnlyList<CapabilityState> DecodeCapabilities(ulong capEff) =>
    [
        new("CAP_SYS_ADMIN", CAP_SYS_ADMIN, Preflight.Has(capEff, CAP_SYS_ADMIN)),
        new("CAP_BPF", CAP_BPF, Preflight.Has(capEff, CAP_BPF)),
        new("CAP_PERFMON", CAP_PERFMON, Preflight.Has(capEff, CAP_PERFMON)),
        new("CAP_NET_ADMIN", CAP_NET_ADMIN, Preflight.Has(capEff, CAP_NET_ADMIN)),
    ];

    /// <summary>The CapEff mask from the text of /proc/PID/status; 0 when absent or malformed.</summary>
    public static ulong ParseCapEff(string status)
    {
        foreach (string line in status.Split('\n'))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal) &&
                ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong caps))
                return caps;
        }
        return 0;
    }

    /// <summary>The bracketed mode of /sys/kernel/security/lockdown ("none [integrity] confidentiality").</summary>
    public static string? ParseLockdown(string text)
    {
        int open = text.IndexOf('[');
        int close = open < 0 ? -1 : text.IndexOf(']', open + 1);
        return close > open + 1 ? text[(open + 1)..close] : null;
    }

    /// <summary>The first of <paramref name="mountPoints"/> where a filesystem of this type is mounted.</summary>
    public static string? FindMount(string mounts, string fsType, params string[] mountPoints)
    {
        foreach (string point in mountPoints)
        {
            foreach ((string at, string type) in Mounts(mounts))
            {
                if (type == fsType && at == point)
                    return point;
            }
        }
        return null;
    }

    /// <summary>Where the first filesystem of this type is mounted (e.g. cgroup2).</summary>
    public static string? FindMountOfType(string mounts, string fsType)
    {
        foreach ((string at, string type) in Mounts(mounts))
        {
            if (type == fsType)
                return at;
        }
        return null;
    }

    /// <summary>(mount point, type) of each line of /proc/self/mounts, with \040-style escapes undone.</summary>
    private static IEnumerable<(string At, string Type)> Mounts(string mounts)
    {
        foreach (string line in mounts.Split('\n'))
        {
            string[] f = line.Split(' ');
            if (f.Length >= 3)
                yield return (Unescape(f[1]), f[2]);
        }
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var sb = new StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                sb.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';

    /// <summary>"EPERM" for 1; the kernel-internal ENOTSUPP (524) has no C library name.</summary>
    public static string ErrnoName(int errno)
    {
        errno = Math.Abs(errno);
        return errno == ENOTSUPP ? "ENOTSUPP" : SysstreamException.ErrnoName(errno);
    }

    // ------------------------------------------------------------ facts

    private readonly record struct ProbeFacts(bool TracefsMounted, string? LockdownMode);

    private static (string? Mode, string Text) ReadLockdown(string mounts)
    {
        if (File.Exists(LockdownFile))
        {
            string? mode = ParseLockdown(ReadOr(LockdownFile, ""));
            return mode is null ? (null, "unknown (unreadable)") : (mode, mode);
        }
        return FindMountOfType(mounts, "securityfs") is null
            ? (null, "unknown (securityfs not mounted)")
            : (null, "unknown (no lockdown LSM)");
    }

    private static string Architecture()
    {
        string arch = ReadOr("/proc/sys/kernel/arch", "").Trim();
        if (arch.Length > 0)
            return arch;
        return RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "x86_64",
            System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
            var other => other.ToString().ToLowerInvariant(),
        };
    }

    private static string ReadOr(string path, string fallback)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return fallback;
        }
    }

    /// <summary>mount -t tracefs nodev /sys/kernel/tracing; null on success, else what mount said.</summary>
    private static string? MountTracefs()
    {
        var psi = new ProcessStartInfo("mount")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (string arg in new[] { "-t", "tracefs", "nodev", TracefsDir })
            psi.ArgumentList.Add(arg);
        try
        {
            using Process p = Process.Start(psi) ?? throw new InvalidOperationException("mount did not start");
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : (err.Trim().Split('\n')[0] is { Length: > 0 } line ? line : $"mount exited with {p.ExitCode}");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"cannot run mount: {ex.Message}";
        }
    }

    // ------------------------------------------------------------ hook probes

    private static List<HookProbe> ProbeHooks(bool verbose, ProbeFacts facts)
    {
        LibbpfLog.Install(verbose);
        byte[] image = BpfObject.EmbeddedImage(ProbeResource);
        var results = new Dictionary<string, HookProbe>();
        foreach (ProgramProbe p in s_programs)
            results[p.Id] = ProbeProgram(image, p, facts);
        results["ringbuf"] = ProbeRingBuffer();
        return HookOrder.Select(h => results[h.Id]).ToList();
    }

    private static HookProbe ProbeRingBuffer()
    {
        const string target = "BPF_MAP_TYPE_RINGBUF";
        int r = Libbpf.libbpf_probe_bpf_map_type(Libbpf.BPF_MAP_TYPE_RINGBUF, null);
        return r switch
        {
            1 => new HookProbe("ringbuf", "ring buffer", target, HookStatus.Yes, "supported"),
            0 => new HookProbe("ringbuf", "ring buffer", target, HookStatus.No, "not supported (needs Linux 5.8+)"),
            _ => new HookProbe("ringbuf", "ring buffer", target, HookStatus.No, $"probe: {ErrnoName(r)}"),
        };
    }

    /// <summary>Opens the probe object, enables only this program, loads it, attaches and detaches at once.</summary>
    private static HookProbe ProbeProgram(byte[] image, ProgramProbe spec, ProbeFacts facts)
    {
        fixed (byte* buf = image)
        {
            byte* name = stackalloc byte[] { (byte)'s', (byte)'s', (byte)'_', (byte)'p', (byte)'r', (byte)'o', (byte)'b', (byte)'e', 0 };
            var opts = new Libbpf.bpf_object_open_opts { sz = (nuint)sizeof(Libbpf.bpf_object_open_opts), object_name = name };
            nint raw = Libbpf.bpf_object__open_mem(buf, (nuint)image.Length, &opts);
            if (raw == 0)
                return No(spec, "", $"open: {ErrnoName(Marshal.GetLastPInvokeError())}");
            using var obj = new BpfObjectHandle(raw);

            nint prog = 0;
            for (nint p = Libbpf.bpf_object__next_program(raw, 0); p != 0; p = Libbpf.bpf_object__next_program(raw, p))
            {
                bool mine = BpfObject.Utf8(Libbpf.bpf_program__name(p)) == spec.Program;
                Libbpf.bpf_program__set_autoload(p, mine);
                if (mine)
                    prog = p;
            }
            if (prog == 0)
                return No(spec, "", $"program {spec.Program} is missing from {ProbeResource}");
            string target = DisplayTarget(BpfObject.Utf8(Libbpf.bpf_program__section_name(prog)));

            int err = Libbpf.bpf_object__load(raw);
            if (err != 0)
                return No(spec, target, "load: " + Explain(spec, -err, load: true, facts));
            if (!spec.Attach)
                return new HookProbe(spec.Id, spec.Label, target, HookStatus.Yes, "loads; attach not tried");

            nint link = Libbpf.bpf_program__attach(prog);
            if (link == 0)
                return No(spec, target, "attach: " + Explain(spec, Marshal.GetLastPInvokeError(), load: false, facts));
            Libbpf.bpf_link__destroy(link);
            return new HookProbe(spec.Id, spec.Label, target, HookStatus.Yes, "loads and attaches");
        }
    }

    private static HookProbe No(ProgramProbe spec, string target, string detail) =>
        new(spec.Id, spec.Label, target, HookStatus.No, detail);

    /// <summary>"tracepoint/syscalls/sys_enter_connect" reads better as the event name perf uses.</summary>
    private static string DisplayTarget(string section) =>
        section.StartsWith("tracepoint/", StringComparison.Ordinal) && section.Count(c => c == '/') == 2
            ? section["tracepoint/".Length..].Replace('/', ':')
            : section;

    /// <summary>The errno's name, with the likely cause where a known fact of this machine points to one.</summary>
    private static string Explain(ProgramProbe spec, int errno, bool load, ProbeFacts facts)
    {
        errno = Math.Abs(errno);
        string name = ErrnoName(errno);
        if (load && errno == EPERM)
        {
            return facts.LockdownMode switch
            {
                null => name + " (lockdown?)",
                "none" => name,
                var mode => $"{name} (lockdown: {mode})",
            };
        }
        if (!load && spec.Id == "tracepoint" && !facts.TracefsMounted)
            return name + " (tracefs not mounted)";
        if (!load && spec.Id == "kprobe" && !Directory.Exists(KprobePmu))
            return name + " (no kprobe PMU: CONFIG_KPROBES off?)";
        if (!load && errno == ENOENT && spec.Id == "tracepoint")
            return name + " (no such tracepoint)";
        return name;
    }
}
