using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

// Helpers beside the generated layout: sun_path as the kernel keeps it. A name that starts with
// NUL is in the abstract namespace and is shown as "@name"; an all-zero path is an unnamed socket.
public unsafe partial struct UnixPaths
{
    public const int PathLength = 108;

    /// <summary>The raw 108 bytes of the local sun_path.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> LocalBytes => MemoryMarshal.CreateReadOnlySpan(in Local[0], PathLength);

    /// <summary>The raw 108 bytes of the remote sun_path.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> RemoteBytes => MemoryMarshal.CreateReadOnlySpan(in Remote[0], PathLength);

    public readonly bool HasLocal => !IsEmpty(LocalBytes);

    public readonly bool HasRemote => !IsEmpty(RemoteBytes);

    /// <summary>Writes the local path for display ("/run/x.sock" or "@name"); 0 when there is none.</summary>
    public readonly int WriteLocal(Span<byte> dest) => WritePath(LocalBytes, dest);

    /// <summary>Writes the remote path for display ("/run/x.sock" or "@name"); 0 when there is none.</summary>
    public readonly int WriteRemote(Span<byte> dest) => WritePath(RemoteBytes, dest);

    /// <summary>An unnamed socket: nothing but NULs.</summary>
    public static bool IsEmpty(ReadOnlySpan<byte> raw) => raw.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>
    /// The display form of a raw sun_path into <paramref name="dest"/> (at least
    /// <see cref="PathLength"/> bytes): a filesystem path up to its NUL, or "@" and an abstract
    /// name up to its last non-NUL byte, with NULs inside it shown as '@' (as ss(8) does).
    /// Returns the bytes written, 0 for an unnamed socket.
    /// </summary>
    public static int WritePath(ReadOnlySpan<byte> raw, Span<byte> dest)
    {
        if (raw.IsEmpty)
            return 0;
        if (raw[0] != 0)
        {
            var path = SyscallEvent.UntilNul(raw);
            path.CopyTo(dest);
            return path.Length;
        }
        int last = raw.LastIndexOfAnyExcept((byte)0);
        if (last < 0)
            return 0;
        var name = raw[1..(last + 1)];
        dest[0] = (byte)'@';
        var tail = dest.Slice(1, name.Length);
        name.CopyTo(tail);
        tail.Replace((byte)0, (byte)'@');
        return name.Length + 1;
    }
}

public partial struct LostEvent
{
    /// <summary>The record type tag (offset 0).</summary>
    public readonly EventType EventType => (EventType)Type;
}
