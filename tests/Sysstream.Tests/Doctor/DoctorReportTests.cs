using System.Text;
using System.Text.Json;
using Sysstream.Bpf;
using Sysstream.Cli.Commands;
using Xunit;

namespace Sysstream.Tests.Doctor;

public class DoctorReportTests
{
    /// <summary>What doctor finds as root on these machines (see kernel-facts.md).</summary>
    private static FeatureReport RootHere() => new()
    {
        KernelRelease = "6.18.44-fc-v657",
        Architecture = "x86_64",
        BtfPath = "/sys/kernel/btf/vmlinux",
        BtfSize = 5515646,
        LockdownMode = null,
        Lockdown = "unknown (securityfs not mounted)",
        TracefsPath = "/sys/kernel/tracing",
        TracefsMounted = false,
        TracefsDetail = "not mounted at /sys/kernel/tracing (--mount-tracefs mounts it)",
        Privileged = true,
        CapEff = 0x000001fffeffffffUL,
        Capabilities = Features.DecodeCapabilities(0x000001fffeffffffUL),
        Hooks =
        [
            new("tp_btf", "tp_btf", "tp_btf/sys_enter", HookStatus.Yes, "loads and attaches"),
            new("raw_tracepoint", "raw tracepoint", "raw_tracepoint/sys_enter", HookStatus.Yes, "loads and attaches"),
            new("tracepoint", "tracepoint", "syscalls:sys_enter_connect", HookStatus.No, "attach: ENOENT (tracefs not mounted)"),
            new("kprobe", "kprobe", "kprobe/__sys_connect", HookStatus.No, "attach: ENOENT (no kprobe PMU: CONFIG_KPROBES off?)"),
            new("fentry", "fentry", "fentry/__sys_connect", HookStatus.No, "load: EPERM (lockdown?)"),
            new("iter", "iterator", "iter/task", HookStatus.Yes, "loads and attaches"),
            new("ringbuf", "ring buffer", "BPF_MAP_TYPE_RINGBUF", HookStatus.Yes, "supported"),
            new("cgroup_skb", "cgroup_skb", "cgroup_skb/egress", HookStatus.Yes, "loads; attach not tried"),
            new("cgroup_sock_addr", "sock_addr", "cgroup/sendmsg4", HookStatus.Yes, "loads; attach not tried"),
            new("tc", "tc", "tc", HookStatus.Yes, "loads; attach not tried"),
        ],
        LibbpfVersion = "1.1",
        Cgroup2Mount = "/sys/fs/cgroup/unified",
        TraceCanRun = true,
        TracePath = Features.TracePathTpBtf,
    };

    private static FeatureReport Unprivileged() => RootHere() with
    {
        Privileged = false,
        CapEff = 0,
        Capabilities = Features.DecodeCapabilities(0),
        Hooks = Features.HookOrder.Select(h => new HookProbe(h.Id, h.Label, "", HookStatus.Skipped, Features.NeedsRoot)).ToList(),
        TraceCanRun = false,
        TracePath = null,
        TraceProblem = "loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)",
    };

    private static FeatureReport KernelWithoutTpBtf() => RootHere() with
    {
        Hooks = RootHere().Hooks.Select(h => h.Id == "tp_btf" ? h with { Status = HookStatus.No, Detail = "load: EPERM (lockdown?)" } : h).ToList(),
        TraceCanRun = false,
        TracePath = null,
        TraceProblem = "tp_btf does not work here (load: EPERM (lockdown?))",
    };

    private static string Table(FeatureReport r)
    {
        var w = new StringWriter { NewLine = "\n" };
        DoctorReport.WriteTable(r, w);
        return w.ToString();
    }

    private static JsonElement Json(FeatureReport r)
    {
        using var ms = new MemoryStream();
        DoctorReport.WriteJson(r, ms);
        return JsonDocument.Parse(ms.ToArray()).RootElement.Clone();
    }

    [Fact]
    public void Exit_codes_follow_sysexits()
    {
        Assert.Equal(0, DoctorReport.ExitCode(RootHere()));
        Assert.Equal(77, DoctorReport.ExitCode(Unprivileged()));
        Assert.Equal(69, DoctorReport.ExitCode(KernelWithoutTpBtf()));
    }

    [Fact]
    public void Table_ends_with_the_attach_path()
    {
        string[] lines = Table(RootHere()).TrimEnd('\n').Split('\n');
        Assert.Equal("trace will use: tp_btf (sys_enter/sys_exit)", lines[^1]);
        Assert.Equal("", lines[^2]);
    }

    [Fact]
    public void Table_says_why_trace_cannot_run()
    {
        string table = Table(KernelWithoutTpBtf());
        Assert.EndsWith("trace cannot run: tp_btf does not work here (load: EPERM (lockdown?))\n", table);
    }

    [Fact]
    public void Table_shows_every_fact_and_hook_with_its_reason()
    {
        string table = Table(RootHere());
        string[] lines = table.Split('\n');
        string Row(string label) => lines.Single(l => l.StartsWith(label + "  ", StringComparison.Ordinal));

        Assert.EndsWith("6.18.44-fc-v657", Row("kernel"));
        Assert.EndsWith("x86_64", Row("architecture"));
        Assert.Contains("5515646 bytes", Row("BTF"));
        Assert.EndsWith("unknown (securityfs not mounted)", Row("lockdown"));
        Assert.Contains("not mounted at /sys/kernel/tracing", Row("tracefs"));
        Assert.Matches(@"^tp_btf +yes +tp_btf/sys_enter: loads and attaches$", Row("tp_btf"));
        Assert.Matches(@"^raw tracepoint +yes ", Row("raw tracepoint"));
        Assert.Matches(@"^tracepoint +no +syscalls:sys_enter_connect: attach: ENOENT", Row("tracepoint"));
        Assert.Matches(@"^kprobe +no +kprobe/__sys_connect: attach: ENOENT", Row("kprobe"));
        Assert.Matches(@"^fentry +no +fentry/__sys_connect: load: EPERM \(lockdown\?\)$", Row("fentry"));
        Assert.Matches(@"^ring buffer +yes ", Row("ring buffer"));
        Assert.EndsWith("loads; attach not tried", Row("cgroup_skb"));
        Assert.EndsWith("loads; attach not tried", Row("tc"));
        Assert.Contains("CapEff 000001fffeffffff", Row("capabilities"));
        foreach (string cap in new[] { "CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN" })
            Assert.EndsWith("yes", Row(cap));
        Assert.EndsWith("1.1", Row("libbpf"));
        Assert.EndsWith("/sys/fs/cgroup/unified", Row("cgroup v2"));
    }

    [Fact]
    public void Table_columns_are_aligned()
    {
        string[] lines = Table(RootHere()).Split('\n');
        Assert.All(lines, l => Assert.Equal(l.TrimEnd(), l));

        // every row starts its value at the same column ...
        string[] rows = lines.Where(l => l.Length > 0 && !l.StartsWith("trace ", StringComparison.Ordinal)).ToArray();
        int valueColumn = "raw tracepoint".Length + 2;
        Assert.All(rows, l =>
        {
            Assert.Equal(' ', l[valueColumn - 1]);
            Assert.NotEqual(' ', l[valueColumn]);
        });

        // ... and the hooks' reasons all start at one column too
        string[] hookRows = Features.HookOrder.Select(h => lines.Single(l => l.StartsWith(h.Label + "  ", StringComparison.Ordinal))).ToArray();
        int detailColumn = hookRows[0].IndexOf("tp_btf/", valueColumn, StringComparison.Ordinal);
        Assert.True(detailColumn > valueColumn);
        Assert.All(hookRows, l =>
        {
            Assert.Equal(' ', l[detailColumn - 1]);
            Assert.NotEqual(' ', l[detailColumn]);
        });
    }

    [Fact]
    public void Without_root_the_hooks_are_marked_skipped()
    {
        string table = Table(Unprivileged());
        foreach ((string _, string label) in Features.HookOrder)
            Assert.Matches($@"(?m)^{label} +skipped \(needs root\)$", table);
        Assert.Matches(@"(?m)^CAP_BPF +no$", table);
        Assert.EndsWith("trace cannot run: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)\n", table);
    }

    [Fact]
    public void Json_has_the_documented_shape()
    {
        JsonElement j = Json(RootHere());
        Assert.Equal("6.18.44-fc-v657", j.GetProperty("kernel").GetString());
        Assert.Equal("x86_64", j.GetProperty("arch").GetString());
        Assert.True(j.GetProperty("btf").GetProperty("present").GetBoolean());
        Assert.Equal(5515646, j.GetProperty("btf").GetProperty("size").GetInt64());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("lockdown").GetProperty("mode").ValueKind);
        Assert.Equal("unknown (securityfs not mounted)", j.GetProperty("lockdown").GetProperty("detail").GetString());
        Assert.False(j.GetProperty("tracefs").GetProperty("mounted").GetBoolean());
        Assert.False(j.GetProperty("tracefs").GetProperty("mounted_now").GetBoolean());
        Assert.Equal("/sys/kernel/tracing", j.GetProperty("tracefs").GetProperty("path").GetString());

        JsonElement hooks = j.GetProperty("hooks");
        Assert.Equal(Features.HookOrder.Select(h => h.Id), hooks.EnumerateObject().Select(p => p.Name));
        Assert.Equal("yes", hooks.GetProperty("tp_btf").GetProperty("status").GetString());
        Assert.Equal("tp_btf/sys_enter", hooks.GetProperty("tp_btf").GetProperty("target").GetString());
        Assert.Equal("no", hooks.GetProperty("fentry").GetProperty("status").GetString());
        Assert.Equal("load: EPERM (lockdown?)", hooks.GetProperty("fentry").GetProperty("detail").GetString());

        Assert.True(j.GetProperty("privileged").GetBoolean());
        JsonElement caps = j.GetProperty("capabilities");
        Assert.Equal("000001fffeffffff", caps.GetProperty("cap_eff").GetString());
        Assert.True(caps.GetProperty("CAP_SYS_ADMIN").GetBoolean());
        Assert.True(caps.GetProperty("CAP_BPF").GetBoolean());
        Assert.True(caps.GetProperty("CAP_PERFMON").GetBoolean());
        Assert.True(caps.GetProperty("CAP_NET_ADMIN").GetBoolean());

        Assert.Equal("1.1", j.GetProperty("libbpf").GetString());
        Assert.Equal("/sys/fs/cgroup/unified", j.GetProperty("cgroup2").GetString());
        JsonElement trace = j.GetProperty("trace");
        Assert.True(trace.GetProperty("can_run").GetBoolean());
        Assert.Equal("tp_btf (sys_enter/sys_exit)", trace.GetProperty("path").GetString());
        Assert.Equal(JsonValueKind.Null, trace.GetProperty("problem").ValueKind);
        Assert.Equal(0, j.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public void Json_without_root_marks_hooks_skipped_and_exit_77()
    {
        JsonElement j = Json(Unprivileged());
        Assert.False(j.GetProperty("privileged").GetBoolean());
        Assert.All(j.GetProperty("hooks").EnumerateObject(), h =>
        {
            Assert.Equal("skipped", h.Value.GetProperty("status").GetString());
            Assert.Equal("needs root", h.Value.GetProperty("detail").GetString());
        });
        Assert.False(j.GetProperty("trace").GetProperty("can_run").GetBoolean());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("trace").GetProperty("path").ValueKind);
        Assert.Contains("root", j.GetProperty("trace").GetProperty("problem").GetString());
        Assert.Equal(77, j.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public void Json_with_missing_facts_writes_nulls()
    {
        FeatureReport r = KernelWithoutTpBtf() with { BtfSize = null, LibbpfVersion = null, Cgroup2Mount = null };
        JsonElement j = Json(r);
        Assert.False(j.GetProperty("btf").GetProperty("present").GetBoolean());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("btf").GetProperty("size").ValueKind);
        Assert.Equal(JsonValueKind.Null, j.GetProperty("libbpf").ValueKind);
        Assert.Equal(JsonValueKind.Null, j.GetProperty("cgroup2").ValueKind);
        Assert.Equal(69, j.GetProperty("exit_code").GetInt32());
        Assert.Contains("no", Table(r).Split('\n').Single(l => l.StartsWith("BTF ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Json_is_one_utf8_object_followed_by_a_newline()
    {
        using var ms = new MemoryStream();
        DoctorReport.WriteJson(RootHere(), ms);
        string text = Encoding.UTF8.GetString(ms.ToArray());
        Assert.StartsWith("{", text);
        Assert.EndsWith("}\n", text);
    }
}
