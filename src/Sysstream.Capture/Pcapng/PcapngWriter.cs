using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Sysstream.Capture.Pcapng;

/// <summary>
/// Writes a pcapng file (draft-ietf-opsawg-pcapng) in little-endian byte order: one Section
/// Header Block, Interface Description Blocks as interfaces appear, Enhanced Packet Blocks with
/// options, and Custom Blocks. Each block is assembled in a reused buffer and handed to the
/// stream whole, so a reader of a growing file or a pipe never sees half a block once
/// <see cref="Flush"/> has been called.
/// </summary>
/// <remarks>
/// A block with options is written in three steps: <c>Begin...</c>, any number of
/// <c>Add...Option</c>, <see cref="EndBlock"/> (which adds opt_endofopt and the trailing length).
/// </remarks>
public sealed class PcapngWriter : IDisposable
{
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    // The block being assembled: _block[.._length]. Grown by doubling, never shrunk.
    private byte[] _block = new byte[64 * 1024];
    private int _length;
    private bool _inBlock, _blockHasOptions, _sectionStarted;
    private int _interfaces;

    /// <summary>Bytes written so far (whole blocks).</summary>
    public long Position { get; private set; }

    /// <summary>Blocks written so far.</summary>
    public long Blocks { get; private set; }

    public int InterfaceCount => _interfaces;

    public PcapngWriter(Stream output, bool leaveOpen = false)
    {
        _output = output;
        _leaveOpen = leaveOpen;
    }

    // ------------------------------------------------------------------ blocks

    /// <summary>Starts the section (must come first). Its length is left unspecified (-1), as for a stream.</summary>
    public void BeginSectionHeader()
    {
        if (_sectionStarted)
            throw new InvalidOperationException("the section header was already written");
        Begin(BlockType.SectionHeader);
        U32(0x1A2B3C4D); // byte-order magic
        U16(1);          // major version
        U16(0);          // minor version
        U64(ulong.MaxValue); // section length: not specified
        _sectionStarted = true;
    }

    /// <summary>Starts an Interface Description Block; returns the interface's id for packets.</summary>
    public int BeginInterface(ushort linkType, uint snapLength)
    {
        RequireSection();
        Begin(BlockType.InterfaceDescription);
        U16(linkType);
        U16(0);
        U32(snapLength);
        return _interfaces++;
    }

    /// <summary>Starts an Enhanced Packet Block. <paramref name="timestamp"/> is in the interface's
    /// resolution (nanoseconds since the epoch for if_tsresol 9).</summary>
    public void BeginEnhancedPacket(int interfaceId, ulong timestamp, ReadOnlySpan<byte> data, uint originalLength)
    {
        RequireSection();
        if ((uint)interfaceId >= (uint)_interfaces)
            throw new ArgumentOutOfRangeException(nameof(interfaceId), $"interface {interfaceId} was not described");
        if (originalLength < (uint)data.Length)
            throw new ArgumentOutOfRangeException(nameof(originalLength), "the original length is less than the captured bytes");
        Begin(BlockType.EnhancedPacket);
        U32((uint)interfaceId);
        U32((uint)(timestamp >> 32));
        U32((uint)timestamp);
        U32((uint)data.Length);
        U32(originalLength);
        Bytes(data);
        Pad(data.Length);
    }

    /// <summary>Writes a whole Custom Block: the enterprise number, then <paramref name="data"/>
    /// (padded to 32 bits; the data must say its own length, the block does not).</summary>
    public void WriteCustomBlock(uint enterpriseNumber, ReadOnlySpan<byte> data, bool copyable = true) =>
        WriteCustomBlock(enterpriseNumber, data, [], copyable);

    /// <summary>The same with the data in two parts (e.g. a header of one's own, then a record
    /// as it is), written one after the other.</summary>
    public void WriteCustomBlock(uint enterpriseNumber, ReadOnlySpan<byte> head, ReadOnlySpan<byte> rest, bool copyable = true)
    {
        RequireSection();
        Begin(copyable ? BlockType.CustomCopyable : BlockType.CustomNotCopyable);
        U32(enterpriseNumber);
        Bytes(head);
        Bytes(rest);
        Pad(head.Length + rest.Length);
        EndBlock();
    }

    // ------------------------------------------------------------------ options

    public void AddOption(ushort code, ReadOnlySpan<byte> value)
    {
        if (!_inBlock)
            throw new InvalidOperationException("no block is open");
        if (code == OptionCode.EndOfOptions)
            throw new ArgumentException("opt_endofopt is added by EndBlock", nameof(code));
        if (value.Length > ushort.MaxValue)
            throw new ArgumentException($"option {code} is {value.Length} bytes; at most 65535", nameof(value));
        U16(code);
        U16((ushort)value.Length);
        Bytes(value);
        Pad(value.Length);
        _blockHasOptions = true;
    }

    /// <summary>A UTF-8 option (opt_comment, if_name, shb_os ...). Not NUL-terminated, as the format says.</summary>
    public void AddStringOption(ushort code, string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> buf = rented ?? stackalloc byte[512];
        try
        {
            int n = Encoding.UTF8.GetBytes(value, buf);
            AddOption(code, buf[..Math.Min(n, ushort.MaxValue)]);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public void AddUInt32Option(ushort code, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, value);
        AddOption(code, v);
    }

    public void AddUInt8Option(ushort code, byte value) => AddOption(code, [value]);

    /// <summary>A custom option: the enterprise number, then the value (UTF-8 for the string codes).</summary>
    public void AddCustomOption(ushort code, uint enterpriseNumber, ReadOnlySpan<byte> value)
    {
        if (!OptionCode.IsCustom(code))
            throw new ArgumentException($"{code} is not a custom option code", nameof(code));
        if (value.Length > ushort.MaxValue - 4)
            throw new ArgumentException("custom option value too long", nameof(value));
        if (!_inBlock)
            throw new InvalidOperationException("no block is open");
        U16(code);
        U16((ushort)(value.Length + 4));
        U32(enterpriseNumber);
        Bytes(value);
        Pad(value.Length);
        _blockHasOptions = true;
    }

    /// <summary>Closes the open block (opt_endofopt when it has options, the trailing length) and writes it.</summary>
    public void EndBlock()
    {
        if (!_inBlock)
            throw new InvalidOperationException("no block is open");
        if (_blockHasOptions)
        {
            U16(OptionCode.EndOfOptions);
            U16(0);
        }
        int total = _length + 4;
        U32((uint)total);
        // The block's length goes into its second word now that it is known.
        Span<byte> block = _block.AsSpan(0, _length);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], (uint)total);
        _output.Write(block);
        Position += total;
        Blocks++;
        _inBlock = false;
        _length = 0;
    }

    /// <summary>Hands everything written to the stream's destination.</summary>
    public void Flush() => _output.Flush();

    public void Dispose()
    {
        if (!_leaveOpen)
            _output.Dispose();
    }

    // ------------------------------------------------------------------ encoding

    private void RequireSection()
    {
        if (!_sectionStarted)
            throw new InvalidOperationException("write the section header first");
    }

    private void Begin(uint type)
    {
        if (_inBlock)
            throw new InvalidOperationException("the previous block was not ended");
        _inBlock = true;
        _blockHasOptions = false;
        _length = 0;
        U32(type);
        U32(0); // total length, filled in by EndBlock
    }

    /// <summary>Room for <paramref name="n"/> more bytes at _block[_length..].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Take(int n)
    {
        if (_block.Length - _length < n)
            Grow(n);
        Span<byte> s = _block.AsSpan(_length, n);
        _length += n;
        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int n) => Array.Resize(ref _block, Math.Max(_block.Length * 2, _length + n));

    private void U16(ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), v);

    private void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v);

    private void U64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), v);

    private void Bytes(ReadOnlySpan<byte> v) => v.CopyTo(Take(v.Length));

    private void Pad(int length)
    {
        int pad = (4 - (length & 3)) & 3;
        if (pad != 0)
            Take(pad).Clear();
    }
}
