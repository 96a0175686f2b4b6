namespace Sysstream;

/// <summary>
/// Exit codes, sysexits-style, as documented in the README.
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Usage = 64;        // bad flag, bad filter value
    public const int DataError = 65;    // malformed input file
    public const int NoInput = 66;      // input file missing or unreadable
    public const int Unavailable = 69;  // the kernel lacks something we need (BTF, a hook)
    public const int Software = 70;     // a bug: an unexpected exception
    public const int IoError = 74;      // writing output failed
    public const int NoPermission = 77; // not root / missing capabilities
}

/// <summary>
/// An anticipated failure: printed as <c>sysstream: message</c> plus an optional <c>hint:</c> line on
/// stderr, with no stack trace, and turned into the exit code.
/// </summary>
public sealed class SysstreamException : Exception
{
    public int ExitCode { get; }
    public string? Hint { get; }

    public SysstreamException(string message, int exitCode, string? hint = null, Exception? inner = null)
        : base(message, inner)
    {
        ExitCode = exitCode;
        Hint = hint;
    }

    /// <summary>The symbolic name of an errno value ("EPERM"), for messages.</summary>
    public static unsafe string ErrnoName(int errno)
    {
        errno = Math.Abs(errno);
        byte* name = Interop.Libc.strerrorname_np(errno);
        return name == null ? $"E{errno}" : new string((sbyte*)name);
    }

    /// <summary>A failed kernel operation: names the operation, the object, the errno and the remedy.</summary>
    public static SysstreamException FromErrno(string operation, int errno)
    {
        errno = Math.Abs(errno);
        string name = ErrnoName(errno);
        return errno switch
        {
            1 or 13 => new SysstreamException($"{operation}: {name}", ExitCodes.NoPermission,
                "run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE"),
            2 or 95 or 524 => new SysstreamException($"{operation}: {name}", ExitCodes.Unavailable,
                "this kernel lacks the hook; `sysstream doctor` lists what it offers"),
            _ => new SysstreamException($"{operation}: {name}", ExitCodes.Unavailable,
                "run with --verbose for libbpf's log; `sysstream doctor` checks the kernel"),
        };
    }
}
