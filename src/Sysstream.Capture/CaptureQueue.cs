using System.Runtime.CompilerServices;

namespace Sysstream.Capture;

/// <summary>A record held by a <see cref="CaptureQueue"/>: where its bytes are and what it is.</summary>
internal readonly record struct HeldRecord(ulong Ts, long Handle, int Length, byte Kind);

/// <summary>
/// The records of a capture while they wait for the window, in timestamp order across several
/// sources (ring buffers). Each source's records arrive nearly in timestamp order (one ring
/// shared by all CPUs: a record's time is taken a little before it is written), so each source
/// keeps its own ordered list, inserted into from the tail (rarely more than a step or two), and
/// taking the oldest compares the heads of the sources: O(1) amortised per record. Ties keep
/// arrival order, across sources too.
/// </summary>
/// <remarks>
/// The bytes live in a <see cref="RecordArena"/> (large chunks, reused), the order in a
/// 32-byte slot per record; nothing is allocated per record once the storage has grown.
/// A record's bytes stay in place from <see cref="Add"/> until <see cref="Free"/>, so the
/// caller may keep its handle (e.g. to pair a packet's delivery with its sending) and write into
/// them while the record is held.
/// </remarks>
internal sealed class CaptureQueue
{
    private struct Slot
    {
        public ulong Ts;
        public long Seq;
        public long Handle;
        public int Length;
        public byte Kind;
    }

    /// <summary>One source's slots, oldest first, in a circular array.</summary>
    private sealed class Source
    {
        public Slot[] Ring = new Slot[1024];
        public int Head, Count;
    }

    private readonly Source[] _sources;
    private readonly RecordArena _arena = new();
    private long _seq;
    private int _count;

    public CaptureQueue(int sources)
    {
        _sources = new Source[Math.Max(1, sources)];
        for (int i = 0; i < _sources.Length; i++)
            _sources[i] = new Source();
    }

    /// <summary>Records held.</summary>
    public int Count => _count;

    /// <summary>Bytes the arena holds (in use or kept for reuse).</summary>
    public long ArenaBytes => _arena.CapacityBytes;

    /// <summary>Holds a record of <paramref name="length"/> bytes from <paramref name="source"/>;
    /// returns its bytes to fill in (not cleared).</summary>
    public Span<byte> Add(int source, ulong ts, byte kind, int length, out long handle)
    {
        handle = _arena.Alloc(length);
        Source s = _sources[source];
        if (s.Count == s.Ring.Length)
            Grow(s);
        Slot[] ring = s.Ring;
        int mask = ring.Length - 1;
        int pos = s.Count;
        // Walk back from the tail past newer records: rarely more than a step or two.
        while (pos > 0)
        {
            ref Slot prev = ref ring[(s.Head + pos - 1) & mask];
            if (prev.Ts <= ts)
                break;
            ring[(s.Head + pos) & mask] = prev;
            pos--;
        }
        ref Slot slot = ref ring[(s.Head + pos) & mask];
        slot.Ts = ts;
        slot.Seq = _seq++;
        slot.Handle = handle;
        slot.Length = length;
        slot.Kind = kind;
        s.Count++;
        _count++;
        return _arena.Span(handle, length);
    }

    /// <summary>The bytes of a held record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Bytes(long handle, int length) => _arena.Span(handle, length);

    /// <summary>Takes the oldest record of all sources if it is at or before <paramref name="upToNs"/>.
    /// Its bytes stay valid until <see cref="Free"/>.</summary>
    public bool TryTake(ulong upToNs, out HeldRecord record)
    {
        Source? best = null;
        ulong bestTs = 0;
        long bestSeq = 0;
        foreach (Source s in _sources)
        {
            if (s.Count == 0)
                continue;
            ref Slot head = ref s.Ring[s.Head];
            if (best is null || head.Ts < bestTs || (head.Ts == bestTs && head.Seq < bestSeq))
            {
                best = s;
                bestTs = head.Ts;
                bestSeq = head.Seq;
            }
        }
        if (best is null || bestTs > upToNs)
        {
            record = default;
            return false;
        }
        ref Slot taken = ref best.Ring[best.Head];
        record = new HeldRecord(taken.Ts, taken.Handle, taken.Length, taken.Kind);
        best.Head = (best.Head + 1) & (best.Ring.Length - 1);
        best.Count--;
        _count--;
        return true;
    }

    /// <summary>Gives a taken record's bytes back.</summary>
    public void Free(long handle) => _arena.Free(handle);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Grow(Source s)
    {
        var bigger = new Slot[s.Ring.Length * 2];
        int mask = s.Ring.Length - 1;
        for (int i = 0; i < s.Count; i++)
            bigger[i] = s.Ring[(s.Head + i) & mask];
        s.Ring = bigger;
        s.Head = 0;
    }
}

/// <summary>
/// Bytes of held records: bump allocation in 1 MiB chunks, each chunk counting its live records
/// and reused (or, beyond a few spares, given back to the GC) once they are all freed. Records
/// are freed in about the order they were allocated, so chunks empty in turn. A handle is the
/// chunk's index and the offset in it. A record larger than a chunk gets a chunk of its own.
/// </summary>
internal sealed class RecordArena
{
    public const int ChunkBytes = 1 << 20;
    private const int MaxSpare = 8;

    private byte[]?[] _chunks = new byte[]?[16];
    private int[] _live = new int[16];
    private int[] _spare = new int[16];   // chunks not in use that keep their array
    private int[] _empty = new int[16];   // chunk indices without an array
    private int _spareCount, _emptyCount, _chunkCount;
    private int _current = -1, _used;

    /// <summary>Bytes of every chunk allocated and not given back.</summary>
    public long CapacityBytes { get; private set; }

    public long Alloc(int length)
    {
        int size = (length + 7) & ~7;
        if (_current < 0 || _used + size > _chunks[_current]!.Length)
            NextChunk(size);
        long handle = ((long)_current << 32) | (uint)_used;
        _used += size;
        _live[_current]++;
        return handle;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Span(long handle, int length) =>
        _chunks[(int)(handle >> 32)].AsSpan((int)(uint)handle, length);

    public void Free(long handle)
    {
        int chunk = (int)(handle >> 32);
        if (--_live[chunk] > 0)
            return;
        if (chunk == _current)
            _used = 0; // empty: filled again from the start
        else
            Retire(chunk);
    }

    /// <summary>Chunks in use (holding records, or the one being filled).</summary>
    public int ChunksInUse => _chunkCount - _spareCount - _emptyCount;

    private void Retire(int chunk)
    {
        byte[] bytes = _chunks[chunk]!;
        if (bytes.Length == ChunkBytes && _spareCount < MaxSpare)
        {
            _spare[_spareCount++] = chunk;
            return;
        }
        // more than a burst needs to keep: the GC takes it back
        _chunks[chunk] = null;
        CapacityBytes -= bytes.Length;
        _empty[_emptyCount++] = chunk;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NextChunk(int size)
    {
        // The current chunk is otherwise left to empty as its records are freed.
        if (_current >= 0 && _live[_current] == 0)
            Retire(_current);
        int chunk;
        if (size <= ChunkBytes && _spareCount > 0)
        {
            chunk = _spare[--_spareCount];
        }
        else
        {
            if (_emptyCount > 0)
            {
                chunk = _empty[--_emptyCount];
            }
            else
            {
                if (_chunkCount == _chunks.Length)
                {
                    Array.Resize(ref _chunks, _chunks.Length * 2);
                    Array.Resize(ref _live, _chunks.Length);
                    Array.Resize(ref _spare, _chunks.Length);
                    Array.Resize(ref _empty, _chunks.Length);
                }
                chunk = _chunkCount++;
            }
            byte[] bytes = GC.AllocateUninitializedArray<byte>(Math.Max(ChunkBytes, size));
            _chunks[chunk] = bytes;
            CapacityBytes += bytes.Length;
        }
        _current = chunk;
        _used = 0;
    }
}
