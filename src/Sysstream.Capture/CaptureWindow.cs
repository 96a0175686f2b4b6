using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;

namespace Sysstream.Capture;

/// <summary>What a <see cref="CaptureWindow"/> holds and what it had to drop.</summary>
public readonly record struct CaptureWindowStats
{
    /// <summary>Blocks held (packets, system calls, losses), not counting the file's header blocks.</summary>
    public long Blocks { get; init; }
    public long Packets { get; init; }
    /// <summary>Bytes held: the blocks, and the header blocks (section, session, interfaces).</summary>
    public long Bytes { get; init; }
    /// <summary>The oldest and newest block's time (Unix ns; 0 when empty).</summary>
    public long OldestUnixNs { get; init; }
    public long NewestUnixNs { get; init; }
    /// <summary>Blocks dropped before their time was up, to stay within the byte limit.</summary>
    public long DroppedBlocks { get; init; }
    public long DroppedBytes { get; init; }
    public long DroppedPackets { get; init; }
    /// <summary>The newest dropped block's time (Unix ns; 0: nothing dropped).</summary>
    public long DroppedUpToUnixNs { get; init; }
    /// <summary>Packets left out by <see cref="CaptureWindow.Exclude"/>.</summary>
    public long ExcludedPackets { get; init; }
}

/// <summary>One pcapng file cut out of a <see cref="CaptureWindow"/>.</summary>
public sealed record CaptureWindowFile
{
    public required byte[] Pcapng { get; init; }
    /// <summary>The start of the span asked for and the time it was cut (Unix ns).</summary>
    public long FromUnixNs { get; init; }
    public long ToUnixNs { get; init; }
    public int Blocks { get; init; }
    public int Packets { get; init; }
    /// <summary>Blocks of the span that the byte limit had dropped before the cut.</summary>
    public bool Incomplete { get; init; }
}

/// <summary>
/// The last seconds of a capture, in memory: receives the pcapng blocks a <see cref="PcapngWriter"/>
/// writes (whole, little-endian, through <see cref="Stream"/>), keeps the file's header blocks
/// (section header, sysstream session block, every interface description) for as long as it lives,
/// and every other block with its time for <see cref="Window"/>, within <see cref="MaxBytes"/>:
/// the oldest blocks are dropped first, and what the byte limit dropped early is counted.
/// <see cref="Cut"/> gives a complete pcapng file of any recent span.
/// </summary>
/// <remarks>
/// Blocks are copied one after the other into chunks of 1 MiB (or of the limit when it is
/// smaller; a larger block gets a chunk of its own) and described by a circular array of entries
/// (time, chunk, offset, length). A block never moves, and no byte of a chunk is written twice
/// while it is in use: a chunk is let go when its last block is, and kept for new blocks.
/// <see cref="Cut"/> therefore holds the lock only to list the byte runs of its span, and copies
/// them while the writer goes on; chunks let go while a cut is copying are left to the garbage
/// collector rather than written over under it. The limit counts the blocks' bytes: the chunks
/// in use hold about two chunks more (the oldest one's start, the newest one's end, and the end
/// of each that the next block did not fit in). Appending allocates nothing once the chunks and
/// the entries have grown, except for a block larger than a chunk or while a cut is copying.
/// A block's time is its packet timestamp (Enhanced Packet Blocks) or its kernel timestamp
/// (sysstream system-call and loss blocks, through the session's clock offset); any other block
/// takes the time of the block before it. Interface ids stay valid in every cut because all
/// interface descriptions are kept, in their order. Thread-safe: one writer, any number of
/// readers.
/// </remarks>
public sealed class CaptureWindow
{
    /// <summary>The size of the chunks blocks are copied into.</summary>
    internal const int ChunkBytes = 1 << 20;
    private const int InitialEntries = 1024;

    private readonly object _lock = new();
    private readonly Func<long> _nowUnixNs;

    // The section header, the session block and the interface descriptions, in file order.
    private byte[]? _sectionHeader;
    private byte[]? _session;
    private readonly List<byte[]> _interfaces = new();
    private readonly List<byte> _interfaceResolution = new();
    private long _headerBytes;
    private long _realtimeOffsetNs;

    // Blocks: their bytes in chunks, in a ring, oldest first, the last one written into; their
    // entries in a ring of two arrays, oldest first (the times on their own: Stats scans them
    // all). An entry names its chunk by number, so that the entries hold no reference for the
    // writer to store or the collector to scan.
    private readonly int _chunkBytes;
    private byte[]?[] _chunks = [];
    private int _chunkStart, _chunkCount;
    // The number of the oldest chunk: numbers only go up (wrapping around does no harm, they are
    // only told apart and subtracted).
    private int _firstChunk;
    private readonly Stack<byte[]> _spareChunks = new();
    private byte[]? _writeChunk;
    private int _writeAt;
    private int _cutsCopying;
    private long[] _times = [];
    private Slot[] _slots = [];
    private int _entryStart, _entryCount;
    private long _heldBytes;
    private long _packets, _lastTs;
    private long _droppedBlocks, _droppedBytes, _droppedPackets, _droppedUpTo;
    private long _excluded;

    private struct Slot
    {
        public int Chunk;
        public int Offset;
        public int Length;
        public bool Packet;
    }

    /// <summary>Bytes of one chunk that a cut copies.</summary>
    private struct Run
    {
        public int Number;
        public byte[] Chunk;
        public int Offset;
        public int Length;
    }

    /// <param name="window">How long blocks are kept.</param>
    /// <param name="maxBytes">At most this many bytes of blocks (at least 64 KiB, at most 1 GiB).</param>
    /// <param name="nowUnixNs">The wall clock, in ns since the epoch (tests pass their own).</param>
    public CaptureWindow(TimeSpan window, long maxBytes, Func<long>? nowUnixNs = null)
    {
        if (window <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(window), "the window must be positive");
        if (maxBytes is < 64 * 1024 or > 1L << 30)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), "use 64 KiB to 1 GiB");
        Window = window;
        MaxBytes = maxBytes;
        _chunkBytes = (int)Math.Min(ChunkBytes, maxBytes);
        _nowUnixNs = nowUnixNs ?? (() => (long)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100);
    }

    public TimeSpan Window { get; }
    public long MaxBytes { get; }

    /// <summary>Packets not to keep at all, by their addresses and ports (serve leaves out its own
    /// HTTP connections: a download would otherwise fill the window with copies of itself).</summary>
    public Func<PacketTuple, bool>? Exclude { get; init; }

    /// <summary>A write-only stream that hands every whole block to <see cref="Append"/> (for a <see cref="PcapngWriter"/>).</summary>
    public Stream CreateStream() => new BlockStream(this);

    // ------------------------------------------------------------------ in

    /// <summary>Takes one whole little-endian pcapng block (type, length, body, length).</summary>
    /// <exception cref="ArgumentException">Not one whole block.</exception>
    public void Append(ReadOnlySpan<byte> block)
    {
        if (block.Length < 12 || (block.Length & 3) != 0 || BinaryPrimitives.ReadInt32LittleEndian(block[4..]) != block.Length)
            throw new ArgumentException($"not one whole pcapng block ({block.Length} bytes)", nameof(block));
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(block);
        if (type == BlockType.EnhancedPacket && Exclude is { } exclude && IsExcluded(block, exclude))
        {
            Interlocked.Increment(ref _excluded);
            return;
        }
        lock (_lock)
        {
            switch (type)
            {
                case BlockType.SectionHeader:
                    Reset();
                    _sectionHeader = block.ToArray();
                    _headerBytes += block.Length;
                    return;
                case BlockType.InterfaceDescription:
                    _interfaces.Add(block.ToArray());
                    _interfaceResolution.Add(TimestampResolution(block));
                    _headerBytes += block.Length;
                    return;
            }
            bool packet = false;
            long ts;
            if (type == BlockType.EnhancedPacket && block.Length >= 28)
            {
                packet = true;
                ts = PacketTime(block);
            }
            else if (BlockType.IsCustom(type) && SysstreamKind(block, out SysstreamBlockKind kind, out ReadOnlySpan<byte> payload))
            {
                if (kind == SysstreamBlockKind.Session)
                {
                    if (payload.Length >= 8)
                        _realtimeOffsetNs = BinaryPrimitives.ReadInt64LittleEndian(payload);
                    _headerBytes -= _session?.Length ?? 0;
                    _session = block.ToArray();
                    _headerBytes += block.Length;
                    return;
                }
                ts = KernelTime(kind, payload);
            }
            else
            {
                ts = _lastTs;
            }
            if (ts == 0)
                ts = _lastTs != 0 ? _lastTs : _nowUnixNs();
            _lastTs = Math.Max(_lastTs, ts);
            if (block.Length > MaxBytes)
            {
                CountDropped(ts, block.Length, packet);
                return;
            }
            ExpireLocked(_nowUnixNs() - Window.Ticks * 100);
            MakeRoom(block.Length);
            Store(block, ts, packet);
        }
    }

    private static bool IsExcluded(ReadOnlySpan<byte> block, Func<PacketTuple, bool> exclude)
    {
        // type, length, interface, timestamp (2), captured length, original length, data ...
        if (block.Length < 32)
            return false;
        uint captured = BinaryPrimitives.ReadUInt32LittleEndian(block[20..]);
        return captured <= (uint)(block.Length - 32) && PacketTuple.TryParse(block.Slice(28, (int)captured), out PacketTuple t) && exclude(t);
    }

    private void Reset()
    {
        _sectionHeader = null;
        _session = null;
        _interfaces.Clear();
        _interfaceResolution.Clear();
        _headerBytes = 0;
        _entryStart = _entryCount = 0;
        _heldBytes = 0;
        while (_chunkCount > 0)
            ReleaseFirst();
        _writeChunk = null;
        _writeAt = 0;
        _packets = 0;
        _lastTs = 0;
    }

    private void Store(ReadOnlySpan<byte> block, long ts, bool packet)
    {
        if (_writeChunk is null || block.Length > _writeChunk.Length - _writeAt)
            StartChunk(block.Length);
        block.CopyTo(_writeChunk.AsSpan(_writeAt));
        if (_entryCount == _times.Length)
            GrowEntries();
        int i = (_entryStart + _entryCount) % _times.Length;
        _times[i] = ts;
        _slots[i] = new Slot { Chunk = _firstChunk + _chunkCount - 1, Offset = _writeAt, Length = block.Length, Packet = packet };
        _writeAt += block.Length;
        _entryCount++;
        _heldBytes += block.Length;
        if (packet)
            _packets++;
    }

    /// <summary>Continues in a fresh chunk: the rest of the current one is too small for the next block.</summary>
    [MemberNotNull(nameof(_writeChunk))]
    private void StartChunk(int length)
    {
        // Uninitialised: nothing is read from a chunk that was not written first.
        _writeChunk = length > _chunkBytes ? GC.AllocateUninitializedArray<byte>(length)
            : _spareChunks.TryPop(out byte[]? spare) ? spare
            : GC.AllocateUninitializedArray<byte>(_chunkBytes);
        _writeAt = 0;
        if (_chunkCount == _chunks.Length)
        {
            var grown = new byte[]?[Math.Max(8, _chunks.Length * 2)];
            for (int i = 0; i < _chunkCount; i++)
                grown[i] = _chunks[(_chunkStart + i) % _chunks.Length];
            _chunks = grown;
            _chunkStart = 0;
        }
        _chunks[(_chunkStart + _chunkCount) % _chunks.Length] = _writeChunk;
        _chunkCount++;
        // With no block left, the chunk written into so far holds none.
        ReleaseUnused();
    }

    /// <summary>Drops the oldest blocks until the new one fits within the limit.</summary>
    private void MakeRoom(int length)
    {
        while (_entryCount > 0 && _heldBytes + length > MaxBytes)
        {
            ref Slot e = ref _slots[_entryStart];
            CountDropped(_times[_entryStart], e.Length, e.Packet);
            RemoveOldest();
        }
    }

    private void GrowEntries()
    {
        int size = _times.Length == 0 ? InitialEntries : _times.Length * 2;
        var times = new long[size];
        var slots = new Slot[size];
        for (int i = 0; i < _entryCount; i++)
        {
            times[i] = _times[(_entryStart + i) % _times.Length];
            slots[i] = _slots[(_entryStart + i) % _times.Length];
        }
        _times = times;
        _slots = slots;
        _entryStart = 0;
    }

    private void RemoveOldest()
    {
        ref Slot e = ref _slots[_entryStart];
        _heldBytes -= e.Length;
        if (e.Packet)
            _packets--;
        _entryStart = (_entryStart + 1) % _times.Length;
        _entryCount--;
        ReleaseUnused();
    }

    /// <summary>Lets go of the oldest chunks that hold no block any more (never the one written into).</summary>
    private void ReleaseUnused()
    {
        // Blocks are in their chunks' order: the oldest block's chunk is the first one still needed.
        int needed = _entryCount > 0 ? _slots[_entryStart].Chunk : _firstChunk + _chunkCount - 1;
        while (_firstChunk != needed)
            ReleaseFirst();
    }

    private void ReleaseFirst()
    {
        byte[] chunk = _chunks[_chunkStart]!;
        _chunks[_chunkStart] = null;
        _chunkStart = (_chunkStart + 1) % _chunks.Length;
        _chunkCount--;
        _firstChunk++;
        // A cut may still be copying out of it: it is reused only when no cut is.
        if (_cutsCopying == 0 && chunk.Length == _chunkBytes)
            _spareChunks.Push(chunk);
    }

    private byte[] Chunk(int number) => _chunks[(_chunkStart + (number - _firstChunk)) % _chunks.Length]!;

    private void CountDropped(long ts, int length, bool packet)
    {
        _droppedBlocks++;
        _droppedBytes += length;
        if (packet)
            _droppedPackets++;
        _droppedUpTo = Math.Max(_droppedUpTo, ts);
    }

    /// <summary>Forgets the blocks older than <paramref name="cutoffUnixNs"/> (their time is up: not a drop).</summary>
    private void ExpireLocked(long cutoffUnixNs)
    {
        while (_entryCount > 0 && _times[_entryStart] < cutoffUnixNs)
            RemoveOldest();
    }

    // ------------------------------------------------------------------ block times

    /// <summary>if_tsresol of an interface description (6, microseconds, when absent).</summary>
    private static byte TimestampResolution(ReadOnlySpan<byte> block)
    {
        // type, length, link type (2), reserved (2), snap length (4), options ..., length
        int at = 16, end = block.Length - 4;
        while (at + 4 <= end)
        {
            ushort code = BinaryPrimitives.ReadUInt16LittleEndian(block[at..]);
            ushort length = BinaryPrimitives.ReadUInt16LittleEndian(block[(at + 2)..]);
            if (code == OptionCode.EndOfOptions || at + 4 + length > end)
                break;
            if (code == OptionCode.IfTsResol && length >= 1)
                return block[at + 4];
            at += 4 + ((length + 3) & ~3);
        }
        return 6;
    }

    private long PacketTime(ReadOnlySpan<byte> block)
    {
        int iface = BinaryPrimitives.ReadInt32LittleEndian(block[8..]);
        ulong raw = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(block[12..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(block[16..]);
        byte resol = (uint)iface < (uint)_interfaceResolution.Count ? _interfaceResolution[iface] : (byte)6;
        if ((resol & 0x80) != 0)
        {
            // a power of two: 2^-n seconds
            int n = resol & 0x7F;
            return n >= 64 ? 0 : (long)(raw >> n) * 1_000_000_000 + (long)(((raw & ((1UL << n) - 1)) * 1_000_000_000) >> n);
        }
        return resol switch
        {
            9 => (long)raw,
            > 9 => (long)(raw / Pow10(resol - 9)),
            _ => (long)raw * (long)Pow10(9 - resol),
        };
    }

    private static ulong Pow10(int n)
    {
        ulong p = 1;
        for (int i = 0; i < n && i < 19; i++)
            p *= 10;
        return p;
    }

    /// <summary>A sysstream Custom Block: its kind and payload (see <see cref="SysstreamBlocks"/>).</summary>
    private static bool SysstreamKind(ReadOnlySpan<byte> block, out SysstreamBlockKind kind, out ReadOnlySpan<byte> payload)
    {
        kind = default;
        payload = default;
        // type, length, PEN, "SSTM", kind, version, payload length, payload ..., length
        ReadOnlySpan<byte> data = block[8..^4];
        if (data.Length < 4 + SysstreamBlocks.HeaderLength || BinaryPrimitives.ReadUInt32LittleEndian(data) != SysstreamBlocks.EnterpriseNumber
            || BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) != SysstreamBlocks.Magic)
            return false;
        kind = (SysstreamBlockKind)BinaryPrimitives.ReadUInt16LittleEndian(data[8..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        payload = data[(4 + SysstreamBlocks.HeaderLength)..];
        if (length < (uint)payload.Length)
            payload = payload[..(int)length];
        return true;
    }

    private long KernelTime(SysstreamBlockKind kind, ReadOnlySpan<byte> payload)
    {
        ulong mono = kind switch
        {
            SysstreamBlockKind.Syscall or SysstreamBlockKind.SyscallUnix when payload.Length >= Unsafe.SizeOf<SyscallEvent>()
                => MemoryMarshal.Read<SyscallEvent>(payload).TsNs,
            SysstreamBlockKind.LostSyscalls or SysstreamBlockKind.LostPackets when payload.Length >= Unsafe.SizeOf<LostEvent>()
                => MemoryMarshal.Read<LostEvent>(payload).TsNs,
            _ => 0,
        };
        return mono == 0 ? 0 : (long)mono + _realtimeOffsetNs;
    }

    // ------------------------------------------------------------------ out

    public CaptureWindowStats Stats
    {
        get
        {
            lock (_lock)
            {
                ExpireLocked(_nowUnixNs() - Window.Ticks * 100);
                return StatsLocked();
            }
        }
    }

    private CaptureWindowStats StatsLocked()
    {
        long oldest = 0, newest = 0;
        for (int i = 0, k = _entryStart; i < _entryCount; i++)
        {
            long ts = _times[k];
            oldest = oldest == 0 ? ts : Math.Min(oldest, ts);
            newest = Math.Max(newest, ts);
            if (++k == _times.Length)
                k = 0;
        }
        return new CaptureWindowStats
        {
            Blocks = _entryCount,
            Packets = _packets,
            Bytes = _heldBytes + _headerBytes,
            OldestUnixNs = oldest,
            NewestUnixNs = newest,
            DroppedBlocks = _droppedBlocks,
            DroppedBytes = _droppedBytes,
            DroppedPackets = _droppedPackets,
            DroppedUpToUnixNs = _droppedUpTo,
            ExcludedPackets = Interlocked.Read(ref _excluded),
        };
    }

    /// <summary>
    /// A pcapng file of the last <paramref name="span"/> (the whole window when null): the section
    /// header (with a comment saying which span it holds and what the byte limit dropped), the
    /// session block, every interface description, then the blocks whose time is in the span, in
    /// the order they were written. Null before the section header was written.
    /// </summary>
    public CaptureWindowFile? Cut(TimeSpan? span = null)
    {
        TimeSpan s = span is { } v && v > TimeSpan.Zero && v < Window ? v : Window;
        byte[] sectionHeader, comment;
        byte[]? session;
        byte[][] interfaces;
        var runs = new List<Run>();
        long now, from, bodyBytes = 0;
        int blocks = 0, packets = 0;
        bool incomplete;
        // Under the lock, only what the span is made of; its bytes are copied after, while the
        // writer goes on: the chunks listed are not written over before _cutsCopying is back down.
        lock (_lock)
        {
            if (_sectionHeader is null)
                return null;
            now = _nowUnixNs();
            ExpireLocked(now - Window.Ticks * 100);
            from = now - s.Ticks * 100;
            for (int i = 0, k = _entryStart; i < _entryCount; i++, k++)
            {
                if (k == _times.Length)
                    k = 0;
                if (_times[k] < from)
                    continue;
                ref readonly Slot e = ref _slots[k];
                bodyBytes += e.Length;
                blocks++;
                if (e.Packet)
                    packets++;
                Span<Run> done = CollectionsMarshal.AsSpan(runs);
                if (done.Length > 0 && done[^1].Number == e.Chunk && done[^1].Offset + done[^1].Length == e.Offset)
                    done[^1].Length += e.Length;
                else
                    runs.Add(new Run { Number = e.Chunk, Chunk = Chunk(e.Chunk), Offset = e.Offset, Length = e.Length });
            }
            incomplete = _droppedBlocks > 0 && _droppedUpTo >= from;
            comment = Encoding.UTF8.GetBytes(Describe(from, now, s, incomplete));
            sectionHeader = _sectionHeader;
            session = _session;
            interfaces = _interfaces.ToArray();
            _cutsCopying++;
        }
        try
        {
            int commentOption = 4 + ((Math.Min(comment.Length, ushort.MaxValue) + 3) & ~3);
            // The section header with one more comment first among its options (and the end of
            // options after it when it had none).
            ReadOnlySpan<byte> rest = sectionHeader.AsSpan(24);
            bool hadOptions = rest.Length > 4;
            int shb = 24 + commentOption + (hadOptions ? rest.Length : 8);
            long total = shb + (session?.Length ?? 0) + interfaces.Sum(b => (long)b.Length) + bodyBytes;
            var file = new byte[total];
            Span<byte> o = file;
            sectionHeader.AsSpan(0, 24).CopyTo(o);
            BinaryPrimitives.WriteUInt16LittleEndian(o[24..], OptionCode.Comment);
            BinaryPrimitives.WriteUInt16LittleEndian(o[26..], (ushort)Math.Min(comment.Length, ushort.MaxValue));
            comment.AsSpan(0, Math.Min(comment.Length, ushort.MaxValue)).CopyTo(o[28..]);
            if (hadOptions)
                rest.CopyTo(o[(24 + commentOption)..]);
            BinaryPrimitives.WriteInt32LittleEndian(o[4..], shb);
            BinaryPrimitives.WriteInt32LittleEndian(o[(shb - 4)..], shb);
            int at = shb;
            if (session is not null)
            {
                session.CopyTo(o[at..]);
                at += session.Length;
            }
            foreach (byte[] idb in interfaces)
            {
                idb.CopyTo(o[at..]);
                at += idb.Length;
            }
            foreach (Run r in runs)
            {
                r.Chunk.AsSpan(r.Offset, r.Length).CopyTo(o[at..]);
                at += r.Length;
            }
            return new CaptureWindowFile
            {
                Pcapng = file,
                FromUnixNs = from,
                ToUnixNs = now,
                Blocks = blocks,
                Packets = packets,
                Incomplete = incomplete,
            };
        }
        finally
        {
            lock (_lock)
                _cutsCopying--;
        }
    }

    private string Describe(long from, long to, TimeSpan span, bool incomplete)
    {
        static string Time(long unixNs) => DateTime.UnixEpoch.AddTicks(unixNs / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        string I(long n) => n.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"sysstream serve: the last {span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s of the capture, ")
            .Append(CultureInfo.InvariantCulture, $"{Time(from)} to {Time(to)} (kept in memory: {Window.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s, at most {I(MaxBytes)} bytes)");
        if (_droppedBlocks == 0)
            text.Append("; nothing dropped");
        else
            text.Append(CultureInfo.InvariantCulture, $"; {I(_droppedBlocks)} blocks ({I(_droppedPackets)} packets, {I(_droppedBytes)} bytes) up to {Time(_droppedUpTo)} were dropped to stay within the byte limit")
                .Append(incomplete ? ": this span is incomplete" : ", none of them in this span");
        return text.ToString();
    }

    /// <summary>Splits what a writer writes into whole blocks (a block may come in pieces).</summary>
    private sealed class BlockStream(CaptureWindow window) : Stream
    {
        private byte[] _pending = [];
        private int _pendingLength;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> data)
        {
            // The usual case: one or more whole blocks and nothing pending, handed over in place.
            while (_pendingLength == 0 && data.Length >= 8)
            {
                int length = BlockLength(data);
                if (length > data.Length)
                    break;
                window.Append(data[..length]);
                data = data[length..];
            }
            if (data.IsEmpty)
                return;
            Keep(data);
            while (_pendingLength >= 8)
            {
                int length = BlockLength(_pending);
                if (length > _pendingLength)
                    break;
                window.Append(_pending.AsSpan(0, length));
                _pending.AsSpan(length, _pendingLength - length).CopyTo(_pending);
                _pendingLength -= length;
            }
        }

        private static int BlockLength(ReadOnlySpan<byte> data)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[4..]);
            if (length < 12 || (length & 3) != 0)
                throw new IOException($"not a pcapng block: length {length}");
            return length;
        }

        private void Keep(ReadOnlySpan<byte> data)
        {
            if (_pendingLength + data.Length > _pending.Length)
                Array.Resize(ref _pending, Math.Max(_pendingLength + data.Length, Math.Max(4096, _pending.Length * 2)));
            data.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += data.Length;
        }
    }
}
