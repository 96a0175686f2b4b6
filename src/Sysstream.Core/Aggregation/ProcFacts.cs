using Sysstream.Proc;

namespace Sysstream.Aggregation;

/// <summary>
/// <see cref="IProcessFacts"/> from /proc through <see cref="ProcessTable"/>: a command line is
/// given only when the pid still belongs to the process that was counted (same start time).
/// </summary>
public sealed class ProcFacts : IProcessFacts
{
    /// <summary>USER_HZ: /proc/PID/stat counts the start time in these ticks.</summary>
    private const ulong NsPerTick = 10_000_000;

    private readonly ProcessTable _table;

    public ProcFacts(ProcessTable table) => _table = table;

    public string UserName(uint uid) => _table.Users.User(uid);

    public string CommandLine(int pid, ulong startNs)
    {
        if (pid <= 0)
            return "";
        ProcessInfo? info = _table.Get(pid);
        return info is not null && SameStart(info.StartTicks, startNs) ? info.CommandLine : "";
    }

    /// <summary>The kernel's start time in ns and /proc's in ticks name the same moment (within a tick).</summary>
    public static bool SameStart(ulong ticks, ulong startNs)
    {
        ulong t = startNs / NsPerTick;
        return ticks + 1 >= t && t + 1 >= ticks;
    }
}
