namespace Sysstream.Events;

/// <summary>
/// Receives decoded events, in timestamp order, on the reader thread. Implementations must not
/// allocate per event and must not block; text is produced only here, never earlier.
/// </summary>
public interface IEventSink
{
    /// <summary>A system call entry or exit. <paramref name="unixPaths"/> is empty, or the
    /// <see cref="UnixPaths"/> record that followed an <see cref="EventType.SyscallUnix"/> event.</summary>
    void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths);

    /// <summary>Records dropped in the kernel on one CPU because the ring buffer was full.</summary>
    void OnLost(in LostEvent lost);

    /// <summary>Called when the reader has drained what was available, and once at the end.</summary>
    void Flush();
}
