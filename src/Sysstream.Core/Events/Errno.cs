using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

/// <summary>
/// errno numbers to their symbolic names ("EAGAIN", "ECONNREFUSED"), as UTF-8. The table is
/// read once from the C library (glibc 2.32+ <c>strerrorname_np</c>), so the names are the ones
/// of this machine's architecture; a number without a name prints as "E&lt;number&gt;".
/// </summary>
public static class Errno
{
    /// <summary>Highest errno looked up in the C library (EHWPOISON on Linux).</summary>
    public const int Max = 133;

    /// <summary>Longest text <see cref="Format"/> writes.</summary>
    public const int MaxFormattedLength = 32;

    private static readonly byte[]?[] s_names = Load();

    /// <summary>A system call's return value that is -errno: [-4095, -1].</summary>
    public static bool IsError(long ret) => ret is >= -SyscallEvent.MaxErrno and <= -1;

    /// <summary>The name of <paramref name="errno"/>, empty when the C library has none.</summary>
    public static ReadOnlySpan<byte> Name(int errno) =>
        (uint)errno < (uint)s_names.Length ? s_names[errno] : default;

    /// <summary>Writes the name of <paramref name="errno"/>, or "E&lt;number&gt;"; returns the length.</summary>
    public static int Format(int errno, Span<byte> dest)
    {
        var name = Name(errno);
        if (!name.IsEmpty)
        {
            name.CopyTo(dest);
            return name.Length;
        }
        dest[0] = (byte)'E';
        Utf8Formatter.TryFormat(errno, dest[1..], out int n);
        return n + 1;
    }

    private static byte[]?[] Load()
    {
        var names = new byte[]?[Max + 1];
        try
        {
            for (int i = 1; i <= Max; i++)
                names[i] = Lookup(i);
        }
        catch (EntryPointNotFoundException)
        {
            // C library without strerrorname_np (glibc < 2.32, musl): numbers only.
        }
        catch (DllNotFoundException)
        {
        }
        return names;
    }

    private static unsafe byte[]? Lookup(int errno)
    {
        byte* p = Interop.Libc.strerrorname_np(errno);
        if (p == null)
            return null;
        var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(p);
        return name.IsEmpty || name.Length > MaxFormattedLength ? null : name.ToArray();
    }
}
