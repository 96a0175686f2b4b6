using System.Buffers.Binary;
using System.Text;

namespace Sysstream.Capture.Pcapng;

/// <summary>A pcapng file that is truncated or does not follow the format; <see cref="Offset"/>
/// is where in the file the problem is (the start of the block, or of the bad field).</summary>
public sealed class PcapngFormatException(long offset, string message) : Exception(message)
{
    public long Offset { get; } = offset;
}

/// <summary>An interface described by an Interface Description Block.</summary>
public sealed record PcapngInterface(int Id, ushort LinkType, uint SnapLength, byte TsResol, string? Name, string? Description)
{
    /// <summary>Converts a timestamp in this interface's units to nanoseconds since the epoch.</summary>
    public ulong ToNanoseconds(ulong timestamp)
    {
        if ((TsResol & 0x80) != 0)
        {
            int shift = TsResol & 0x7f; // units of 2^-shift seconds
            UInt128 ns = (UInt128)timestamp * 1_000_000_000UL;
            return shift >= 128 ? 0 : (ulong)(ns >> shift);
        }
        int exp = TsResol; // units of 10^-exp seconds
        if (exp <= 9)
        {
            ulong mul = 1;
            for (int i = exp; i < 9; i++)
                mul *= 10;
            return timestamp * mul;
        }
        ulong div = 1;
        for (int i = 9; i < exp && i < 28; i++)
            div *= 10;
        return timestamp / div;
    }
}

/// <summary>One block as read: its type, where it starts, and its body (between the length
/// word and the trailing length), which stays valid until the next read.</summary>
public readonly struct PcapngBlock
{
    public uint Type { get; init; }
    public long Offset { get; init; }
    public int TotalLength { get; init; }
    public bool BigEndian { get; init; }
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>File offset of a byte of the body.</summary>
    public long BodyOffset(int at) => Offset + 8 + at;
}

/// <summary>The fixed part of an Enhanced (or Simple) Packet Block, and where its options start.</summary>
public readonly struct PcapngPacket
{
    public int InterfaceId { get; init; }
    public ulong Timestamp { get; init; }
    public uint OriginalLength { get; init; }
    public ReadOnlyMemory<byte> Data { get; init; }
    /// <summary>Offset of the options in the block's body (the body's length when there are none).</summary>
    public int OptionsAt { get; init; }
}

/// <summary>One option of a block: code and value (the value of a custom option starts with its PEN).</summary>
public readonly ref struct PcapngOption
{
    public ushort Code { get; init; }
    public ReadOnlySpan<byte> Value { get; init; }
    /// <summary>Offset of the option in the block's body.</summary>
    public int At { get; init; }
}

/// <summary>
/// Reads a pcapng file block by block from any stream (a pipe too), checking every length it
/// relies on: a truncated or malformed file gives a <see cref="PcapngFormatException"/> naming
/// the offset, never another exception, an endless loop or a huge allocation. Both byte orders
/// and several sections are understood; unknown block types are skipped, as the format asks.
/// </summary>
public sealed class PcapngReader
{
    /// <summary>Blocks longer than this are taken for corruption (Wireshark's limit is of the same order).</summary>
    public const int DefaultMaxBlockLength = 32 * 1024 * 1024;

    private readonly Stream _input;
    private readonly int _maxBlockLength;
    private byte[] _buffer = new byte[64 * 1024];
    private readonly List<PcapngInterface> _interfaces = new();
    private bool _bigEndian;
    private bool _inSection;

    /// <summary>Offset of the next block in the file.</summary>
    public long Offset { get; private set; }

    /// <summary>The interfaces of the current section, by id.</summary>
    public IReadOnlyList<PcapngInterface> Interfaces => _interfaces;

    public int Sections { get; private set; }

    public PcapngReader(Stream input, int maxBlockLength = DefaultMaxBlockLength)
    {
        _input = input;
        _maxBlockLength = maxBlockLength;
    }

    /// <summary>Reads the next block; false at the end of the file (which must fall between blocks).</summary>
    /// <exception cref="PcapngFormatException">The file is truncated or malformed here.</exception>
    public bool TryRead(out PcapngBlock block)
    {
        block = default;
        long start = Offset;
        Span<byte> head = stackalloc byte[12];
        int got = ReadFully(head[..8]);
        if (got == 0)
        {
            if (!_inSection)
                throw new PcapngFormatException(start, "the file is empty: a pcapng file starts with a section header block");
            return false;
        }
        if (got < 8)
            throw Truncated(start, "block header", 8, got);

        uint rawType = BinaryPrimitives.ReadUInt32LittleEndian(head);
        bool bigEndian = _bigEndian;
        if (rawType == BlockType.SectionHeader)
        {
            // The byte order comes from the section's own magic, right after the length.
            int more = ReadFully(head[8..12]);
            if (more < 4)
                throw Truncated(start, "section header block", 12, 8 + more);
            uint magicLe = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
            if (magicLe == 0x1A2B3C4D)
                bigEndian = false;
            else if (magicLe == 0x4D3C2B1A)
                bigEndian = true;
            else
                throw new PcapngFormatException(start + 8, $"bad byte-order magic 0x{magicLe:x8} in the section header (expected 0x1a2b3c4d)");
        }
        else if (!_inSection)
        {
            throw new PcapngFormatException(start, Sections == 0 && start == 0
                ? $"not a pcapng file: it starts with 0x{rawType:x8}, not a section header block (0x0a0d0d0a)"
                : $"block 0x{rawType:x8} outside a section");
        }

        uint type = bigEndian ? BinaryPrimitives.ReverseEndianness(rawType) : rawType;
        uint length = Read32(head[4..], bigEndian);
        if (length < 12 || (type == BlockType.SectionHeader && length < 28))
            throw new PcapngFormatException(start + 4, $"block 0x{type:x8} has length {length}, less than its fixed part");
        if ((length & 3) != 0)
            throw new PcapngFormatException(start + 4, $"block 0x{type:x8} has length {length}, not a multiple of 4");
        if (length > (uint)_maxBlockLength)
            throw new PcapngFormatException(start + 4, $"block 0x{type:x8} claims {length} bytes, more than the {_maxBlockLength} a block may have");

        int total = (int)length;
        int already = rawType == BlockType.SectionHeader ? 12 : 8;
        if (_input.CanSeek)
        {
            long left = _input.Length - _input.Position;
            if (left < total - already)
                throw Truncated(start, $"block 0x{type:x8}", total, already + (int)Math.Max(0, left));
        }
        EnsureBuffer(total);
        head[..already].CopyTo(_buffer);
        int rest = ReadFully(_buffer.AsSpan(already, total - already));
        if (rest < total - already)
            throw Truncated(start, $"block 0x{type:x8}", total, already + rest);
        Offset = start + total;

        uint trailer = Read32(_buffer.AsSpan(total - 4), bigEndian);
        if (trailer != length)
            throw new PcapngFormatException(start + total - 4, $"block 0x{type:x8} at offset {start} is {length} bytes long but its trailing length says {trailer}");

        block = new PcapngBlock
        {
            Type = type,
            Offset = start,
            TotalLength = total,
            BigEndian = bigEndian,
            Body = _buffer.AsMemory(8, total - 12),
        };
        Validate(block);
        return true;
    }

    // ------------------------------------------------------------------ per block type

    private void Validate(in PcapngBlock b)
    {
        ReadOnlySpan<byte> body = b.Body.Span;
        switch (b.Type)
        {
            case BlockType.SectionHeader:
            {
                ushort major = Read16(body[4..], b.BigEndian), minor = Read16(body[6..], b.BigEndian);
                if (major != 1)
                    throw new PcapngFormatException(b.BodyOffset(4), $"pcapng version {major}.{minor} is not supported (only 1.x)");
                CheckOptions(b, 16);
                _bigEndian = b.BigEndian;
                _inSection = true;
                _interfaces.Clear();
                Sections++;
                break;
            }
            case BlockType.InterfaceDescription:
            {
                if (body.Length < 8)
                    throw TooShort(b, "interface description block", 8);
                CheckOptions(b, 8);
                byte tsresol = 6;
                string? name = null, description = null;
                foreach (PcapngOption o in Options(b, 8))
                {
                    if (o.Code == OptionCode.IfTsResol)
                        tsresol = o.Value[0];
                    else if (o.Code == OptionCode.IfName)
                        name = Encoding.UTF8.GetString(o.Value);
                    else if (o.Code == OptionCode.IfDescription)
                        description = Encoding.UTF8.GetString(o.Value);
                }
                _interfaces.Add(new PcapngInterface(_interfaces.Count, Read16(body, b.BigEndian), Read32(body[4..], b.BigEndian),
                    tsresol, name, description));
                break;
            }
            case BlockType.EnhancedPacket:
            {
                if (body.Length < 20)
                    throw TooShort(b, "enhanced packet block", 20);
                uint iface = Read32(body, b.BigEndian);
                if (iface >= (uint)_interfaces.Count)
                    throw new PcapngFormatException(b.BodyOffset(0), $"packet of interface {iface}, but {_interfaces.Count} interface(s) were described before it");
                uint cap = Read32(body[12..], b.BigEndian);
                if (cap > (uint)(body.Length - 20))
                    throw new PcapngFormatException(b.BodyOffset(12), $"packet claims {cap} captured bytes, its block holds {body.Length - 20}");
                CheckOptions(b, 20 + Padded((int)cap));
                break;
            }
            case BlockType.SimplePacket:
            {
                if (body.Length < 4)
                    throw TooShort(b, "simple packet block", 4);
                if (_interfaces.Count == 0)
                    throw new PcapngFormatException(b.Offset, "simple packet block before any interface description block");
                break;
            }
            case BlockType.InterfaceStatistics:
            {
                if (body.Length < 12)
                    throw TooShort(b, "interface statistics block", 12);
                uint iface = Read32(body, b.BigEndian);
                if (iface >= (uint)_interfaces.Count)
                    throw new PcapngFormatException(b.BodyOffset(0), $"statistics of interface {iface}, but {_interfaces.Count} interface(s) were described");
                CheckOptions(b, 12);
                break;
            }
            case BlockType.CustomCopyable:
            case BlockType.CustomNotCopyable:
                if (body.Length < 4)
                    throw TooShort(b, "custom block", 4);
                break;
        }
    }

    /// <summary>The fixed part of an Enhanced or Simple Packet Block (already validated by <see cref="TryRead"/>).</summary>
    public PcapngPacket ReadPacket(in PcapngBlock b)
    {
        ReadOnlySpan<byte> body = b.Body.Span;
        if (b.Type == BlockType.EnhancedPacket)
        {
            uint cap = Read32(body[12..], b.BigEndian);
            return new PcapngPacket
            {
                InterfaceId = (int)Read32(body, b.BigEndian),
                Timestamp = ((ulong)Read32(body[4..], b.BigEndian) << 32) | Read32(body[8..], b.BigEndian),
                OriginalLength = Read32(body[16..], b.BigEndian),
                Data = b.Body.Slice(20, (int)cap),
                OptionsAt = 20 + Padded((int)cap),
            };
        }
        if (b.Type == BlockType.SimplePacket)
        {
            uint orig = Read32(body, b.BigEndian);
            uint snap = _interfaces[0].SnapLength;
            int cap = (int)Math.Min(Math.Min(orig, snap == 0 ? uint.MaxValue : snap), (uint)(body.Length - 4));
            return new PcapngPacket { InterfaceId = 0, OriginalLength = orig, Data = b.Body.Slice(4, cap), OptionsAt = body.Length };
        }
        throw new ArgumentException($"block 0x{b.Type:x8} is not a packet block", nameof(b));
    }

    /// <summary>The Private Enterprise Number and the data (with its padding) of a Custom Block.</summary>
    public static (uint Pen, ReadOnlyMemory<byte> Data) ReadCustom(in PcapngBlock b)
    {
        if (!BlockType.IsCustom(b.Type))
            throw new ArgumentException($"block 0x{b.Type:x8} is not a custom block", nameof(b));
        return (Read32(b.Body.Span, b.BigEndian), b.Body[4..]);
    }

    /// <summary>The options of a block, from <paramref name="at"/> in its body (validated when the block was read).</summary>
    public static OptionEnumerator Options(in PcapngBlock b, int at) => new(b.Body.Span, at, b.BigEndian);

    /// <summary>Iterates options; stops at opt_endofopt or the end of the body.</summary>
    public ref struct OptionEnumerator
    {
        private readonly ReadOnlySpan<byte> _body;
        private readonly bool _bigEndian;
        private int _next;

        public OptionEnumerator(ReadOnlySpan<byte> body, int at, bool bigEndian)
        {
            _body = body;
            _next = at;
            _bigEndian = bigEndian;
            Current = default;
        }

        public PcapngOption Current { get; private set; }

        public readonly OptionEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_next + 4 > _body.Length)
                return false;
            ushort code = Read16(_body[_next..], _bigEndian);
            ushort len = Read16(_body[(_next + 2)..], _bigEndian);
            if (code == OptionCode.EndOfOptions || _next + 4 + len > _body.Length)
                return false;
            Current = new PcapngOption { Code = code, Value = _body.Slice(_next + 4, len), At = _next };
            _next += 4 + Padded(len);
            return true;
        }
    }

    private static void CheckOptions(in PcapngBlock b, int at)
    {
        ReadOnlySpan<byte> body = b.Body.Span;
        if (at > body.Length)
            throw new PcapngFormatException(b.BodyOffset(Math.Min(at, body.Length)), $"block 0x{b.Type:x8} is too short for its fixed part");
        int i = at;
        while (i < body.Length)
        {
            if (i + 4 > body.Length)
                throw new PcapngFormatException(b.BodyOffset(i), $"option header cut off at the end of block 0x{b.Type:x8}");
            ushort code = Read16(body[i..], b.BigEndian);
            ushort len = Read16(body[(i + 2)..], b.BigEndian);
            if (code == OptionCode.EndOfOptions)
                return;
            if (i + 4 + Padded(len) > body.Length)
                throw new PcapngFormatException(b.BodyOffset(i), $"option {code} of {len} bytes runs past the end of block 0x{b.Type:x8}");
            bool bad = (b.Type, code) switch
            {
                (BlockType.InterfaceDescription, OptionCode.IfTsResol) => len != 1,
                (BlockType.EnhancedPacket, OptionCode.EpbFlags) => len != 4,
                (BlockType.EnhancedPacket, OptionCode.EpbDropCount) => len != 8,
                (BlockType.EnhancedPacket, OptionCode.EpbPacketId) => len != 8,
                _ => OptionCode.IsCustom(code) && len < 4,
            };
            if (bad)
                throw new PcapngFormatException(b.BodyOffset(i), $"option {code} of block 0x{b.Type:x8} has a bad length {len}");
            i += 4 + Padded(len);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static PcapngFormatException Truncated(long start, string what, long need, long have) =>
        new(start + have, $"truncated: the {what} at offset {start} is {need} bytes long, only {have} are in the file");

    private static PcapngFormatException TooShort(in PcapngBlock b, string what, int need) =>
        new(b.Offset, $"{what} at offset {b.Offset} is {b.TotalLength} bytes, too short for its {need}-byte fixed part");

    private static int Padded(int n) => (n + 3) & ~3;

    private static ushort Read16(ReadOnlySpan<byte> s, bool be) =>
        be ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    private static uint Read32(ReadOnlySpan<byte> s, bool be) =>
        be ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    private void EnsureBuffer(int size)
    {
        if (_buffer.Length < size)
            _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
    }

    /// <summary>Reads until the span is full or the stream ends; returns the bytes read.</summary>
    private int ReadFully(Span<byte> dest)
    {
        int total = 0;
        while (total < dest.Length)
        {
            int n = _input.Read(dest[total..]);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }
}
