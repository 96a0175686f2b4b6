using Sysstream.Bpf;
using Xunit;

namespace Sysstream.Tests.Doctor;

public class CapabilityDecodingTests
{
    private const string Status = """
        Name:	sysstream
        Umask:	0022
        State:	R (running)
        CapInh:	0000000000000000
        CapPrm:	000001fffeffffff
        CapEff:	000001fffeffffff
        CapBnd:	000001fffeffffff
        CapAmb:	0000000000000000
        NoNewPrivs:	0
        """;

    [Fact]
    public void CapEff_is_read_from_proc_status()
    {
        Assert.Equal(0x000001fffeffffffUL, Features.ParseCapEff(Status));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Name:\tx\nCapPrm:\t00000000000000ff\n")]
    [InlineData("CapEff:\tnot-hex\n")]
    public void Missing_or_malformed_CapEff_means_no_capabilities(string status)
    {
        Assert.Equal(0UL, Features.ParseCapEff(status));
    }

    [Fact]
    public void Root_here_has_all_four_capabilities()
    {
        // CapEff of root on these machines: everything but CAP_SYS_RESOURCE (bit 24).
        var caps = Features.DecodeCapabilities(0x000001fffeffffffUL);
        Assert.Equal(["CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"], caps.Select(c => c.Name));
        Assert.All(caps, c => Assert.True(c.Effective, c.Name));
        Assert.True(Features.CanLoadBpf(0x000001fffeffffffUL));
    }

    [Fact]
    public void Each_capability_is_decoded_from_its_own_bit()
    {
        var expected = new Dictionary<string, int>
        {
            ["CAP_NET_ADMIN"] = 12,
            ["CAP_SYS_ADMIN"] = 21,
            ["CAP_PERFMON"] = 38,
            ["CAP_BPF"] = 39,
        };
        foreach ((string name, int bit) in expected)
        {
            var caps = Features.DecodeCapabilities(1UL << bit);
            Assert.Equal(bit, caps.Single(c => c.Name == name).Number);
            Assert.Equal([name], caps.Where(c => c.Effective).Select(c => c.Name));
        }
        Assert.All(Features.DecodeCapabilities(0), c => Assert.False(c.Effective));
    }

    [Theory]
    [InlineData(0UL, false)]
    [InlineData(1UL << 21, true)]                    // CAP_SYS_ADMIN alone
    [InlineData((1UL << 39) | (1UL << 38), true)]    // CAP_BPF + CAP_PERFMON
    [InlineData(1UL << 39, false)]                   // CAP_BPF without CAP_PERFMON
    [InlineData(1UL << 12, false)]                   // CAP_NET_ADMIN alone
    public void Loading_BPF_needs_sys_admin_or_bpf_with_perfmon(ulong capEff, bool expected)
    {
        Assert.Equal(expected, Features.CanLoadBpf(capEff));
    }
}

public class KernelFactsTests
{
    private const string Mounts = """
        sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
        proc /proc proc rw,relatime 0 0
        tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
        cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
        tracefs /sys/kernel/tracing tracefs rw,relatime 0 0
        tmpfs /mnt/with\040space tmpfs rw 0 0
        """;

    [Theory]
    [InlineData("none [integrity] confidentiality\n", "integrity")]
    [InlineData("[none] integrity confidentiality\n", "none")]
    [InlineData("none integrity [confidentiality]", "confidentiality")]
    [InlineData("", null)]
    [InlineData("[]", null)]
    public void Lockdown_mode_is_the_bracketed_word(string text, string? expected)
    {
        Assert.Equal(expected, Features.ParseLockdown(text));
    }

    [Fact]
    public void Cgroup2_is_found_where_it_is_mounted()
    {
        Assert.Equal("/sys/fs/cgroup/unified", Features.FindMountOfType(Mounts, "cgroup2"));
        Assert.Null(Features.FindMountOfType(Mounts, "securityfs"));
    }

    [Fact]
    public void Tracefs_is_found_only_at_the_places_asked_for()
    {
        Assert.Equal("/sys/kernel/tracing", Features.FindMount(Mounts, "tracefs", "/sys/kernel/tracing", "/sys/kernel/debug/tracing"));
        Assert.Null(Features.FindMount(Mounts, "tracefs", "/sys/kernel/debug/tracing"));
        Assert.Null(Features.FindMount("", "tracefs", "/sys/kernel/tracing"));
    }

    [Fact]
    public void Escaped_mount_points_are_decoded()
    {
        Assert.Equal("/mnt/with space", Features.FindMount(Mounts, "tmpfs", "/mnt/with space"));
    }

    [Theory]
    [InlineData(1, "EPERM")]
    [InlineData(-2, "ENOENT")]
    [InlineData(95, "EOPNOTSUPP")]
    [InlineData(524, "ENOTSUPP")]
    public void Errno_names_include_the_kernel_internal_ENOTSUPP(int errno, string expected)
    {
        Assert.Equal(expected, Features.ErrnoName(errno));
    }
}

public class VerdictTests
{
    private static HookProbe Hook(string id, HookStatus s, string detail = "loads and attaches") => new(id, id, id, s, detail);

    [Fact]
    public void Trace_runs_on_tp_btf_with_a_ring_buffer()
    {
        var (canRun, path, problem) = Features.Verdict(true, true, null, Hook("tp_btf", HookStatus.Yes), Hook("ringbuf", HookStatus.Yes));
        Assert.True(canRun);
        Assert.Equal("tp_btf (sys_enter/sys_exit)", path);
        Assert.Null(problem);
    }

    [Fact]
    public void Without_privileges_trace_cannot_run()
    {
        var (canRun, path, problem) = Features.Verdict(false, true, null,
            Hook("tp_btf", HookStatus.Skipped, "needs root"), Hook("ringbuf", HookStatus.Skipped, "needs root"));
        Assert.False(canRun);
        Assert.Null(path);
        Assert.Contains("root", problem);
    }

    [Fact]
    public void Missing_BTF_is_named_as_the_reason()
    {
        var (canRun, _, problem) = Features.Verdict(true, false, null,
            Hook("tp_btf", HookStatus.No, "load: ESRCH"), Hook("ringbuf", HookStatus.Yes));
        Assert.False(canRun);
        Assert.Contains("BTF", problem);
    }

    [Fact]
    public void A_failing_tp_btf_is_named_with_its_errno()
    {
        var (canRun, _, problem) = Features.Verdict(true, true, null,
            Hook("tp_btf", HookStatus.No, "load: EPERM (lockdown?)"), Hook("ringbuf", HookStatus.Yes));
        Assert.False(canRun);
        Assert.Contains("load: EPERM", problem);
    }

    [Fact]
    public void No_ring_buffer_means_no_trace()
    {
        var (canRun, _, problem) = Features.Verdict(true, true, null,
            Hook("tp_btf", HookStatus.Yes), Hook("ringbuf", HookStatus.No, "not supported (needs Linux 5.8+)"));
        Assert.False(canRun);
        Assert.Contains("ring buffer", problem);
    }

    [Fact]
    public void A_missing_libbpf_wins_over_everything()
    {
        var (canRun, _, problem) = Features.Verdict(false, false, "libbpf.so.1 not found",
            Hook("tp_btf", HookStatus.No, "libbpf.so.1 not found"), Hook("ringbuf", HookStatus.No, "libbpf.so.1 not found"));
        Assert.False(canRun);
        Assert.StartsWith("libbpf.so.1 not found", problem);
    }
}
