using System.Diagnostics;
using System.Text.Json;
using Sysstream.Bpf;
using Sysstream.Cli.Commands;
using Sysstream.Interop;
using Xunit;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// Runs doctor's real probes. The expectations are this workplace's kernel (kernel-facts.md):
/// tp_btf, raw tracepoints and the ring buffer work; kprobes (CONFIG_KPROBES unset) and fentry
/// (lockdown) do not.
/// </summary>
public class DoctorTests
{
    private static bool IsRoot => Libc.geteuid() == 0;

    private static FeatureReport ProbeAsRoot()
    {
        Skip.IfNot(IsRoot, "needs root: loads BPF programs");
        return Features.Probe(new FeatureProbeOptions());
    }

    [SkippableFact]
    public void Hooks_match_this_kernel()
    {
        FeatureReport r = ProbeAsRoot();
        Assert.True(r.Privileged);

        HookProbe Hook(string id) => r.Hook(id) ?? throw new Xunit.Sdk.XunitException($"no probe for {id}");
        Assert.Equal(HookStatus.Yes, Hook("tp_btf").Status);
        Assert.Equal("loads and attaches", Hook("tp_btf").Detail);
        Assert.Equal("tp_btf/sys_enter", Hook("tp_btf").Target);
        Assert.Equal(HookStatus.Yes, Hook("raw_tracepoint").Status);
        Assert.Equal(HookStatus.Yes, Hook("ringbuf").Status);
        Assert.Equal(HookStatus.Yes, Hook("iter").Status);
        Assert.Equal("loads and attaches", Hook("iter").Detail);
        Assert.Equal("iter/task", Hook("iter").Target);

        Assert.Equal(HookStatus.No, Hook("kprobe").Status);
        Assert.StartsWith("attach: ", Hook("kprobe").Detail);
        Assert.Equal(HookStatus.No, Hook("fentry").Status);
        Assert.StartsWith("load: EPERM", Hook("fentry").Detail);

        Assert.Equal(HookStatus.Yes, Hook("cgroup_skb").Status);
        Assert.Equal("loads; attach not tried", Hook("cgroup_skb").Detail);
        Assert.Equal(HookStatus.Yes, Hook("cgroup_sock_addr").Status);
        Assert.Equal("loads; attach not tried", Hook("cgroup_sock_addr").Detail);
        Assert.Equal(HookStatus.Yes, Hook("tc").Status);
        Assert.Equal("loads; attach not tried", Hook("tc").Detail);
    }

    [SkippableFact]
    public void Classic_tracepoint_works_exactly_when_tracefs_is_mounted()
    {
        FeatureReport r = ProbeAsRoot();
        HookProbe tp = r.Hook("tracepoint")!;
        Assert.Equal("syscalls:sys_enter_connect", tp.Target);
        if (r.TracefsMounted)
        {
            Assert.Equal(HookStatus.Yes, tp.Status);
        }
        else
        {
            Assert.Equal(HookStatus.No, tp.Status);
            Assert.Equal("attach: ENOENT (tracefs not mounted)", tp.Detail);
        }
    }

    [SkippableFact]
    public void Facts_match_this_machine()
    {
        FeatureReport r = ProbeAsRoot();
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), r.KernelRelease);
        Assert.Equal("x86_64", r.Architecture);
        Assert.NotNull(r.BtfSize);
        Assert.True(r.BtfSize > 1_000_000);
        Assert.Equal("/sys/fs/cgroup/unified", r.Cgroup2Mount);
        Assert.StartsWith("1.", r.LibbpfVersion);
        Assert.All(r.Capabilities, c => Assert.True(c.Effective, c.Name));
        if (!File.Exists(Features.LockdownFile))
            Assert.Equal("unknown (securityfs not mounted)", r.Lockdown);
    }

    [SkippableFact]
    public void Trace_can_run_on_tp_btf()
    {
        FeatureReport r = ProbeAsRoot();
        Assert.True(r.TraceCanRun, r.TraceProblem);
        Assert.Equal("tp_btf (sys_enter/sys_exit)", r.TracePath);
        Assert.Equal(0, DoctorReport.ExitCode(r));
    }

    [SkippableFact]
    public void No_probe_program_stays_loaded()
    {
        Skip.IfNot(IsRoot, "needs root: loads BPF programs");
        Skip.If(FindOnPath("bpftool") is null, "bpftool is not installed");
        Features.Probe(new FeatureProbeOptions());

        // bpftool lists which processes hold each program: none may be held by this one.
        var psi = new ProcessStartInfo("bpftool", "-j prog show") { RedirectStandardOutput = true, UseShellExecute = false };
        using Process p = Process.Start(psi)!;
        string json = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        int self = Environment.ProcessId;
        foreach (JsonElement prog in JsonDocument.Parse(json).RootElement.EnumerateArray())
        {
            if (!prog.TryGetProperty("name", out JsonElement name) || !name.GetString()!.StartsWith("ss_probe", StringComparison.Ordinal))
                continue;
            if (!prog.TryGetProperty("pids", out JsonElement pids))
                continue;
            Assert.DoesNotContain(pids.EnumerateArray(), x => x.GetProperty("pid").GetInt32() == self);
        }
    }

    [SkippableFact]
    public void Doctor_json_is_clean_and_exits_0()
    {
        Skip.IfNot(IsRoot, "needs root: loads BPF programs");
        string dll = Path.Combine(AppContext.BaseDirectory, "sysstream.dll");
        Skip.IfNot(File.Exists(dll), "sysstream.dll is not next to the tests");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

        var psi = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { dll, "doctor", "-o", "json" })
            psi.ArgumentList.Add(arg);
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "doctor did not finish in 30 s");

        Assert.Equal(0, p.ExitCode);
        // libbpf's complaints about the failing probes (fentry, kprobe) must stay quiet
        Assert.Equal("", stderr.Result);
        JsonElement j = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("yes", j.GetProperty("hooks").GetProperty("tp_btf").GetProperty("status").GetString());
        Assert.Equal("no", j.GetProperty("hooks").GetProperty("fentry").GetProperty("status").GetString());
        Assert.True(j.GetProperty("trace").GetProperty("can_run").GetBoolean());
        Assert.Equal(0, j.GetProperty("exit_code").GetInt32());
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
