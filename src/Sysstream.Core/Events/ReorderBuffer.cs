using System.Runtime.CompilerServices;

namespace Sysstream.Events;

/// <summary>
/// Puts events from all CPUs into timestamp order. The one ring buffer is shared by all CPUs, so
/// records are nearly ordered already: a record's timestamp is taken a little before it is
/// written, and another CPU may write in between. Records are held until they are older than the
/// window (measured against the monotonic clock when the reader drains), then released in order.
/// Storage is preallocated and only grows; nothing is allocated per event. A slot holds the
/// fixed event only; the unix paths that follow a few records live in a side pool, so the
/// buffer stays small (it holds every event of the window).
/// </summary>
public sealed class ReorderBuffer
{
    private struct Slot
    {
        public SyscallEvent Ev;  // for lost records, the LostEvent is stored in its first bytes
        public EventType Kind;
        public int PathsIndex;   // SyscallUnix: the entry of _paths holding its paths
    }

    private Slot[] _ring;
    private int _head, _count;
    private ulong _lastReleased;

    private UnixPaths[] _paths = new UnixPaths[16];
    private int[] _freePaths = new int[16];
    private int _freeCount;
    private int _pathsUsed;
    private static readonly UnixPaths NoPaths = default;

    /// <summary>Records that arrived after newer ones had been released; released with their
    /// timestamp raised to the last one shown, so the output never goes backwards.</summary>
    public long LateRecords { get; private set; }

    public int Count => _count;

    public ReorderBuffer(int initialCapacity = 4096)
    {
        _ring = new Slot[Math.Max(16, initialCapacity)];
    }

    /// <summary>Adds a system call record: one event, or two when it carries its entry. The
    /// entry goes in first: it is the older, so neither usually has to move past the other.</summary>
    public void AddSyscall(in SyscallEvent ev)
    {
        if (!ev.CarriesEntry)
        {
            Insert(ev.TsNs, EventType.Syscall).Ev = ev;
            return;
        }
        SyscallEvent exit = ev;
        exit.SplitEntry(out SyscallEvent entry);
        Insert(entry.TsNs, EventType.Syscall).Ev = entry;
        Insert(exit.TsNs, EventType.Syscall).Ev = exit;
    }

    public void AddSyscallUnix(in SyscallEventUnix ev)
    {
        if (!ev.Ev.CarriesEntry)
        {
            AddUnix(in ev.Ev, in ev.Paths);
            return;
        }
        SyscallEvent exit = ev.Ev;
        exit.SplitEntry(out SyscallEvent entry);
        AddUnix(in entry, in ev.Paths);
        AddUnix(in exit, in ev.Paths);
    }

    private void AddUnix(in SyscallEvent ev, in UnixPaths paths)
    {
        int index = TakePaths();
        _paths[index] = paths;
        ref Slot slot = ref Insert(ev.TsNs, EventType.SyscallUnix);
        slot.Ev = ev;
        slot.PathsIndex = index;
    }

    public void AddLost(in LostEvent lost) =>
        Unsafe.As<SyscallEvent, LostEvent>(ref Insert(lost.TsNs, EventType.Lost).Ev) = lost;

    private ref Slot Insert(ulong ts, EventType kind)
    {
        if (_count == _ring.Length)
            Grow();
        int pos = _count;
        // Walk back from the tail past newer records: rarely more than a step or two.
        while (pos > 0 && TsAt(pos - 1) > ts)
        {
            At(pos) = At(pos - 1);
            pos--;
        }
        _count++;
        ref Slot slot = ref At(pos);
        slot.Kind = kind;
        return ref slot;
    }

    /// <summary>Releases, in order, every record at or before <paramref name="upToNs"/>.</summary>
    public void Release(ulong upToNs, IEventSink sink)
    {
        while (_count > 0)
        {
            ref Slot slot = ref _ring[_head];
            ulong ts = TsOf(ref slot);
            if (ts > upToNs)
                break;
            if (ts < _lastReleased)
            {
                LateRecords++;
                SetTs(ref slot, _lastReleased);
            }
            else
            {
                _lastReleased = ts;
            }
            switch (slot.Kind)
            {
                case EventType.Syscall:
                    sink.OnSyscall(in slot.Ev, in NoPaths, hasUnixPaths: false);
                    break;
                case EventType.SyscallUnix:
                    sink.OnSyscall(in slot.Ev, in _paths[slot.PathsIndex], hasUnixPaths: true);
                    _freePaths[_freeCount++] = slot.PathsIndex;
                    break;
                case EventType.Lost:
                    sink.OnLost(in Unsafe.As<SyscallEvent, LostEvent>(ref slot.Ev));
                    break;
            }
            _head = _head + 1 == _ring.Length ? 0 : _head + 1;
            _count--;
        }
    }

    /// <summary>Releases everything held (at the end of a trace).</summary>
    public void ReleaseAll(IEventSink sink) => Release(ulong.MaxValue, sink);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Slot At(int i)
    {
        int idx = _head + i;
        if (idx >= _ring.Length)
            idx -= _ring.Length;
        return ref _ring[idx];
    }

    private ulong TsAt(int i) => TsOf(ref At(i));

    private static ulong TsOf(ref Slot s) =>
        s.Kind == EventType.Lost ? Unsafe.As<SyscallEvent, LostEvent>(ref s.Ev).TsNs : s.Ev.TsNs;

    private static void SetTs(ref Slot s, ulong ts)
    {
        if (s.Kind == EventType.Lost)
            Unsafe.As<SyscallEvent, LostEvent>(ref s.Ev).TsNs = ts;
        else
            s.Ev.TsNs = ts;
    }

    /// <summary>A free entry of the paths pool (held from insert to release).</summary>
    private int TakePaths()
    {
        if (_freeCount > 0)
            return _freePaths[--_freeCount];
        if (_pathsUsed == _paths.Length)
            GrowPaths();
        return _pathsUsed++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowPaths()
    {
        Array.Resize(ref _paths, _paths.Length * 2);
        Array.Resize(ref _freePaths, _paths.Length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow()
    {
        var bigger = new Slot[_ring.Length * 2];
        for (int i = 0; i < _count; i++)
            bigger[i] = At(i);
        _ring = bigger;
        _head = 0;
    }
}
