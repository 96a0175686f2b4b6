namespace Sysstream.Proc;

/// <summary>What /proc says about one process, read once and cached by <see cref="ProcessTable"/>.</summary>
public sealed record ProcessInfo
{
    public required int Pid { get; init; }
    public int Ppid { get; init; }
    public string Comm { get; init; } = "";
    /// <summary>The command line, arguments joined by spaces; empty for kernel threads or when gone.</summary>
    public string CommandLine { get; init; } = "";
    /// <summary>The executable's path (readlink /proc/PID/exe), empty when not readable.</summary>
    public string Exe { get; init; } = "";
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public string User { get; init; } = "";
    public string Group { get; init; } = "";
    /// <summary>Start time in clock ticks after boot (field 22 of stat): with the pid, identifies the process.</summary>
    public ulong StartTicks { get; init; }
    /// <summary>The cgroup v2 path (from /proc/PID/cgroup, the "0::" line).</summary>
    public string Cgroup { get; init; } = "";
}
