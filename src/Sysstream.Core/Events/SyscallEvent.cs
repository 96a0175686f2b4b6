using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

// Hand-written helpers beside the generated layout (Generated.cs). Every member is readonly so
// that calls through `in SyscallEvent` never copy the record.
public unsafe partial struct SyscallEvent
{
    /// <summary>Largest errno the kernel returns as -errno (include/linux/err.h MAX_ERRNO).</summary>
    public const int MaxErrno = 4095;

    /// <summary>The record type tag (offset 0).</summary>
    public readonly EventType EventType => (EventType)Type;

    /// <summary>Entry or exit of the call.</summary>
    public readonly global::Sysstream.Events.Phase PhaseKind => (global::Sysstream.Events.Phase)Phase;

    /// <summary>Which system call.</summary>
    public readonly global::Sysstream.Events.Func FuncKind => (global::Sysstream.Events.Func)Func;

    /// <summary>The <see cref="Events.EventFlags"/> bits of this record.</summary>
    public readonly EventFlags EventFlags => (EventFlags)Flags;

    public readonly bool IsExit => Phase == (byte)global::Sysstream.Events.Phase.Exit;

    public readonly bool HasFlag(EventFlags flag) => (Flags & (uint)flag) != 0;

    /// <summary>An exit whose return value is -errno: in [-4095, -1].</summary>
    public readonly bool IsError => IsExit && Ret is >= -MaxErrno and <= -1;

    /// <summary>The errno of a failed call (positive), 0 otherwise.</summary>
    public readonly int ErrorNumber => IsError ? (int)-Ret : 0;

    /// <summary>The thread's name, up to its NUL.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> CommSpan => UntilNul(MemoryMarshal.CreateReadOnlySpan(in Comm[0], 16));

    /// <summary>The parent's name, up to its NUL.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> PcommSpan => UntilNul(MemoryMarshal.CreateReadOnlySpan(in Pcomm[0], 16));

    /// <summary>
    /// The bytes the call moved, known at the exit of a data call that succeeded: the return
    /// value, or for sendmmsg/recvmmsg (which return a message count) the sum of the messages.
    /// </summary>
    public readonly bool TryGetBytes(out ulong bytes)
    {
        var f = FuncKind;
        if (IsExit && Ret >= 0 && f.IsData())
        {
            bytes = f.IsMultiMessage() ? ReqBytes : (ulong)Ret;
            return true;
        }
        bytes = 0;
        return false;
    }

    /// <summary>
    /// The bytes the caller asked to move, for data calls whose request size is known at entry
    /// (not sendmmsg/recvmmsg, whose <see cref="ReqBytes"/> holds the moved sum at exit).
    /// </summary>
    public readonly bool TryGetRequestedBytes(out ulong bytes)
    {
        var f = FuncKind;
        if (f.IsData() && !f.IsMultiMessage())
        {
            bytes = ReqBytes;
            return true;
        }
        bytes = 0;
        return false;
    }

    /// <summary>An exit record that also stands for its entry (<see cref="EventFlags.WithEntry"/>):
    /// the kernel writes calls that cannot wait as one record.</summary>
    public readonly bool CarriesEntry => IsExit && HasFlag(EventFlags.WithEntry);

    /// <summary>
    /// Splits a record that carries its entry into the two events it stands for, in place: this
    /// becomes the exit alone, <paramref name="entry"/> the entry as sys_enter saw it (same
    /// process, socket and request; at ts_ns - duration_ns; no result yet).
    /// </summary>
    public void SplitEntry(out SyscallEvent entry)
    {
        Flags &= ~(uint)EventFlags.WithEntry;
        entry = this;
        entry.Phase = (byte)global::Sysstream.Events.Phase.Enter;
        entry.TsNs = TsNs - DurationNs;
        entry.DurationNs = 0;
        entry.Ret = 0;
    }

    internal static ReadOnlySpan<byte> UntilNul(ReadOnlySpan<byte> s)
    {
        int n = s.IndexOf((byte)0);
        return n < 0 ? s : s[..n];
    }
}

/// <summary>Classification of the traced calls.</summary>
public static class FuncExtensions
{
    /// <summary>Calls that move bytes out through a socket.</summary>
    public static bool IsSend(this Func f) => f is Func.Sendto or Func.Sendmsg or Func.Sendmmsg
        or Func.Write or Func.Writev or Func.Sendfile;

    /// <summary>Calls that move bytes in from a socket.</summary>
    public static bool IsRecv(this Func f) => f is Func.Recvfrom or Func.Recvmsg or Func.Recvmmsg
        or Func.Read or Func.Readv;

    /// <summary>Calls that move bytes (splice may go either way).</summary>
    public static bool IsData(this Func f) => f.IsSend() || f.IsRecv() || f == Func.Splice;

    /// <summary>sendmmsg/recvmmsg: the return value counts messages, not bytes.</summary>
    public static bool IsMultiMessage(this Func f) => f is Func.Sendmmsg or Func.Recvmmsg;

    /// <summary>Calls whose successful return value is a new descriptor.</summary>
    public static bool ReturnsFd(this Func f) => f is Func.Socket or Func.Accept or Func.Accept4;

    /// <summary>The C name of the call ("socket", "accept4", "recvfrom"), as UTF-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Utf8Name(this Func f) => Names.FuncName(f);
}
