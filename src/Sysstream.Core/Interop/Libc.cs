using System.Runtime.InteropServices;

namespace Sysstream.Interop;

/// <summary>The C library calls sysstream needs, named as in C.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int CLOCK_REALTIME = 0;
    public const int CLOCK_MONOTONIC = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long tv_sec;
        public long tv_nsec;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int clock_gettime(int clockid, out Timespec tp);

    /// <summary>glibc 2.32+: the errno's symbolic name ("EAGAIN"), or null if unknown.</summary>
    [LibraryImport(Lib)]
    public static partial byte* strerrorname_np(int errnum);

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    [LibraryImport(Lib)]
    public static partial int getpid();

    [LibraryImport(Lib)]
    public static partial int vsnprintf(byte* str, nuint size, byte* format, nint ap);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    public const int SIGCONT = 18;
    public const int O_RDONLY = 0;
    public const int O_DIRECTORY = 0x10000;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string pathname, int flags);

    [LibraryImport(Lib)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport(Lib)]
    public static partial int gettid();

    public const int PRIO_PROCESS = 0;

    /// <summary>With PRIO_PROCESS and a thread id, sets that thread's nice value (Linux).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setpriority(int which, uint who, int prio);

    public static long ClockGettimeNs(int clock)
    {
        clock_gettime(clock, out Timespec ts);
        return ts.tv_sec * 1_000_000_000L + ts.tv_nsec;
    }
}
