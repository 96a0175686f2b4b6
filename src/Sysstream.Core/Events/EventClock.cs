using System.Runtime.InteropServices;

namespace Sysstream.Events;

/// <summary>
/// Turns the kernel's CLOCK_MONOTONIC event timestamps into wall-clock time, and into seconds
/// relative to the first event shown.
/// </summary>
public sealed class EventClock
{
    /// <summary>CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns, sampled once at start.</summary>
    public long RealtimeOffsetNs { get; }

    /// <summary>Monotonic ns of the first event (relative times count from it); 0 until set.</summary>
    public ulong OriginNs { get; private set; }

    public EventClock(long realtimeOffsetNs) => RealtimeOffsetNs = realtimeOffsetNs;

    /// <summary>Samples the offset between the wall clock and the monotonic clock now.</summary>
    public static EventClock FromSystem()
    {
        long mono = Interop.Libc.ClockGettimeNs(Interop.Libc.CLOCK_MONOTONIC);
        long real = Interop.Libc.ClockGettimeNs(Interop.Libc.CLOCK_REALTIME);
        long mono2 = Interop.Libc.ClockGettimeNs(Interop.Libc.CLOCK_MONOTONIC);
        return new EventClock(real - (mono + (mono2 - mono) / 2));
    }

    /// <summary>Nanoseconds since the Unix epoch for a monotonic event timestamp.</summary>
    public long ToUnixNs(ulong monotonicNs) => (long)monotonicNs + RealtimeOffsetNs;

    /// <summary>Nanoseconds since the first event; the first call fixes the origin.</summary>
    public ulong Relative(ulong monotonicNs)
    {
        if (OriginNs == 0)
            OriginNs = monotonicNs;
        return monotonicNs >= OriginNs ? monotonicNs - OriginNs : 0;
    }
}
