using System.Net;

namespace Sysstream.Graph;

/// <summary>How processes are grouped into the nodes of the map.</summary>
public enum GroupBy
{
    /// <summary>Executable and user: `nginx (www-data)`. The default.</summary>
    ExeUser,
    Pid,
    Comm,
    Exe,
    Cgroup,
    User,
}

public static class GroupByNames
{
    public static readonly string[] All = ["exe-user", "pid", "comm", "exe", "cgroup", "user"];

    public static string Name(this GroupBy g) => g switch
    {
        GroupBy.Pid => "pid",
        GroupBy.Comm => "comm",
        GroupBy.Exe => "exe",
        GroupBy.Cgroup => "cgroup",
        GroupBy.User => "user",
        _ => "exe-user",
    };

    public static bool TryParse(string? text, out GroupBy value)
    {
        value = GroupBy.ExeUser;
        switch ((text ?? "").Trim().ToLowerInvariant())
        {
            case "" or "exe-user" or "exe+user" or "default": value = GroupBy.ExeUser; return true;
            case "pid": value = GroupBy.Pid; return true;
            case "comm": value = GroupBy.Comm; return true;
            case "exe": value = GroupBy.Exe; return true;
            case "cgroup": value = GroupBy.Cgroup; return true;
            case "user": value = GroupBy.User; return true;
            default: return false;
        }
    }
}

/// <summary>What a socket lifecycle event was (from the trace object loaded with a call mask).</summary>
public enum SocketEventKind : byte
{
    Connect,
    Accept,
    Listen,
    Close,
}

/// <summary>
/// A connect, accept, listen or close as the kernel reported it at the call's return: the
/// process it ran in (trusted: system call context), the socket's cookie and tuple, the result.
/// </summary>
public sealed record SocketEvent
{
    public required SocketEventKind Kind { get; init; }
    /// <summary>CLOCK_MONOTONIC ns of the return.</summary>
    public ulong TsNs { get; init; }
    public int Pid { get; init; }
    public string Comm { get; init; } = "";
    public uint Uid { get; init; }
    public ulong Cookie { get; init; }
    public ushort Family { get; init; }
    public ushort Protocol { get; init; }
    public IPAddress? LocalAddress { get; init; }
    public ushort LocalPort { get; init; }
    public IPAddress? RemoteAddress { get; init; }
    public ushort RemotePort { get; init; }
    /// <summary>Unix sockets: the socket's own path and its peer's ("@name" for abstract names).</summary>
    public string? LocalPath { get; init; }
    public string? RemotePath { get; init; }
    /// <summary>The return value (negative errno on failure).</summary>
    public long Ret { get; init; }
    /// <summary>The errno name of a failure ("ECONNREFUSED"), null on success.</summary>
    public string? Error { get; init; }
    public ulong DurationNs { get; init; }
}

/// <summary>A socket waiting for peers: TCP LISTEN, a bound unconnected UDP socket, a listening unix socket.</summary>
public sealed record ListenerInfo
{
    /// <summary>"tcp", "udp", "unix".</summary>
    public required string Proto { get; init; }
    public IPAddress? Address { get; init; }
    public ushort Port { get; init; }
    /// <summary>Unix sockets: the path ("@name" for abstract ones).</summary>
    public string? Path { get; init; }
    /// <summary>Processes holding the socket (every holder of the descriptor).</summary>
    public IReadOnlyList<int> Pids { get; init; } = [];
    public ulong Inode { get; init; }

    /// <summary>"tcp 127.0.0.1:80", "udp *:53", "unix /run/x.sock".</summary>
    public string Display => Path is not null ? $"{Proto} {Path}" : $"{Proto} {Aggregation.Endpoints.Format(Address, Port)}";
}

/// <summary>What the map knows about a process: from the kernel's totals and /proc.</summary>
public sealed record ProcessFact
{
    public required int Pid { get; init; }
    public ulong StartNs { get; init; }
    public string Comm { get; init; } = "";
    /// <summary>The executable's path; empty when it could not be read (the process was gone).</summary>
    public string Exe { get; init; } = "";
    public uint Uid { get; init; }
    public string User { get; init; } = "";
    public string Cgroup { get; init; } = "";
    public string CommandLine { get; init; } = "";
    public bool Exited { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
}

/// <summary>Facts about processes that the kernel's maps do not hold: executable, user name, command line, cgroup.</summary>
public interface IProcessDirectory
{
    /// <summary>The facts of a process (pid and start time); <paramref name="comm"/> and
    /// <paramref name="uid"/> are what the kernel saw, used when /proc no longer has it.</summary>
    ProcessFact Describe(int pid, ulong startNs, string comm, uint uid);

    /// <summary>The user name of a uid.</summary>
    string UserName(uint uid);
}

/// <summary>Reverse DNS names, looked up in the background; null until (and unless) one comes.</summary>
public interface IHostNames
{
    string? TryGet(IPAddress address);
}

/// <summary>No names: for tests and `--no-dns`.</summary>
public sealed class NoHostNames : IHostNames
{
    public static readonly NoHostNames Instance = new();

    public string? TryGet(IPAddress address) => null;
}
