using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

/// <summary>
/// Decodes ring-buffer records in place: dispatches on the type tag at offset 0 and copies the
/// fixed struct into the <see cref="ReorderBuffer"/> (a record that carries its entry becomes
/// two events there). No object per record; malformed records
/// (too short, unknown tag) are counted, never thrown.
/// </summary>
public sealed class RecordDecoder
{
    private readonly ReorderBuffer _target;

    /// <summary>Events decoded (a record that carries its entry counts two, as in the kernel).</summary>
    public long Records { get; private set; }
    public long Malformed { get; private set; }
    /// <summary>Sum of the counts of the lost records seen.</summary>
    public long LostReported { get; private set; }
    /// <summary>Records decoded per CPU (index: CPU number).</summary>
    public long[] PerCpu { get; }

    public RecordDecoder(ReorderBuffer target, int cpus)
    {
        _target = target;
        PerCpu = new long[Math.Max(1, cpus)];
    }

    public unsafe void Decode(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(ushort))
        {
            Malformed++;
            return;
        }
        switch ((EventType)MemoryMarshal.Read<ushort>(record))
        {
            case EventType.Syscall when record.Length >= sizeof(SyscallEvent):
            {
                ref readonly SyscallEvent ev = ref MemoryMarshal.AsRef<SyscallEvent>(record);
                Count(in ev);
                _target.AddSyscall(in ev);
                break;
            }
            case EventType.SyscallUnix when record.Length >= sizeof(SyscallEventUnix):
            {
                ref readonly SyscallEventUnix ev = ref MemoryMarshal.AsRef<SyscallEventUnix>(record);
                Count(in ev.Ev);
                _target.AddSyscallUnix(in ev);
                break;
            }
            case EventType.Lost when record.Length >= sizeof(LostEvent):
            {
                ref readonly LostEvent lost = ref MemoryMarshal.AsRef<LostEvent>(record);
                LostReported += (long)lost.Count;
                _target.AddLost(in lost);
                break;
            }
            default:
                Malformed++;
                break;
        }
    }

    /// <summary>Counts a loss that user space announces itself (at the end of a trace).</summary>
    public void CountLost(ulong count) => LostReported += (long)count;

    /// <summary>Counts events, as the kernel does: a record that carries its entry is two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(in SyscallEvent ev)
    {
        int n = ev.CarriesEntry ? 2 : 1;
        Records += n;
        if (ev.Cpu < (uint)PerCpu.Length)
            PerCpu[ev.Cpu] += n;
    }
}
