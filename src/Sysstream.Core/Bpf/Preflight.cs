using System.Globalization;

namespace Sysstream.Bpf;

/// <summary>Checks, before touching libbpf, what a trace needs; fails with one line and a remedy.</summary>
public static class Preflight
{
    public const string VmlinuxBtf = "/sys/kernel/btf/vmlinux";
    public const int CAP_SYS_ADMIN = 21, CAP_PERFMON = 38, CAP_BPF = 39;

    public static void EnsureCanTrace()
    {
        ulong caps = EffectiveCapabilities();
        bool ok = Has(caps, CAP_SYS_ADMIN) || (Has(caps, CAP_BPF) && Has(caps, CAP_PERFMON));
        if (!ok)
            throw new SysstreamException(
                "tracing needs root (or CAP_BPF and CAP_PERFMON): this process has neither",
                ExitCodes.NoPermission, "run it with sudo, or grant the capabilities: setcap cap_bpf,cap_perfmon+ep sysstream");
        if (!File.Exists(VmlinuxBtf))
            throw new SysstreamException($"this kernel exposes no BTF ({VmlinuxBtf} is missing)",
                ExitCodes.Unavailable, "sysstream needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)");
    }

    public static bool Has(ulong caps, int cap) => (caps & (1UL << cap)) != 0;

    /// <summary>CapEff from /proc/self/status.</summary>
    public static ulong EffectiveCapabilities()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }
}
