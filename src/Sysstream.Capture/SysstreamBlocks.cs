using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;

namespace Sysstream.Capture;

/// <summary>What a sysstream Custom Block holds.</summary>
public enum SysstreamBlockKind : ushort
{
    /// <summary>Once, before any other: the clock offset and a JSON description of the capture.</summary>
    Session = 1,
    /// <summary>A system call entry or exit: the tracer's ss_syscall_event as the kernel wrote it.</summary>
    Syscall = 2,
    /// <summary>The same followed by ss_unix_paths (ss_syscall_event_unix).</summary>
    SyscallUnix = 3,
    /// <summary>System call records dropped in the kernel (ss_lost_event), where it happened.</summary>
    LostSyscalls = 4,
    /// <summary>Packet records dropped in the kernel (ss_lost_event), where it happened.</summary>
    LostPackets = 5,
}

/// <summary>
/// sysstream's records inside a pcapng file: Custom Blocks (type 0x00000BAD, which Wireshark and
/// tshark skip) and custom options, under Private Enterprise Number 32473, the number IANA keeps
/// for documentation and examples (RFC 5612): no number is registered to sysstream, so a fixed
/// magic after the PEN tells its blocks from anyone else's.
/// </summary>
/// <remarks>
/// Custom Block data, little-endian:
/// <code>
/// 0  u32 magic "SSTM" (0x53 0x53 0x54 0x4d)
/// 4  u16 kind  (SysstreamBlockKind)
/// 6  u16 version (1: the layouts of bpf/sysstream.h as of this version)
/// 8  u32 length of the payload that follows
/// 12 payload, then zero padding to 32 bits (the pcapng block's own padding)
/// </code>
/// Payloads: Session = i64 realtime-minus-monotonic offset in ns, then a UTF-8 JSON object;
/// Syscall = ss_syscall_event (176 bytes); SyscallUnix = ss_syscall_event_unix (392 bytes);
/// LostSyscalls and LostPackets = ss_lost_event (24 bytes). Kernel timestamps stay
/// CLOCK_MONOTONIC; adding the session's offset gives the wall-clock time.
/// </remarks>
public static class SysstreamBlocks
{
    /// <summary>IANA's Private Enterprise Number for documentation (RFC 5612).</summary>
    public const uint EnterpriseNumber = 32473;
    public const uint Magic = 0x4D545353; // "SSTM" read little-endian
    public const ushort Version = 1;
    public const int HeaderLength = 12;

    /// <summary>Writes one sysstream Custom Block: the header, then the payload as it is (no copy in between).</summary>
    public static void Write(PcapngWriter writer, SysstreamBlockKind kind, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], (ushort)kind);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)payload.Length);
        writer.WriteCustomBlock(EnterpriseNumber, header, payload);
    }

    /// <summary>Writes a fixed kernel struct as the payload.</summary>
    public static void Write<T>(PcapngWriter writer, SysstreamBlockKind kind, in T record) where T : unmanaged =>
        Write(writer, kind, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in record)));

    /// <summary>A session block: the clock offset, then a JSON object.</summary>
    public static void WriteSession(PcapngWriter writer, long realtimeOffsetNs, ReadOnlySpan<byte> json)
    {
        byte[] payload = new byte[8 + json.Length];
        BinaryPrimitives.WriteInt64LittleEndian(payload, realtimeOffsetNs);
        json.CopyTo(payload.AsSpan(8));
        Write(writer, SysstreamBlockKind.Session, payload);
    }

    /// <summary>
    /// Recognises a sysstream Custom Block and checks its header; false for anyone else's custom
    /// block. A block with our magic but a bad header or payload size is corrupt.
    /// </summary>
    /// <exception cref="PcapngFormatException">Our magic, but the header or payload does not add up.</exception>
    public static bool TryParse(in PcapngBlock block, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload)
    {
        kind = default;
        payload = default;
        if (!BlockType.IsCustom(block.Type))
            return false;
        (uint pen, ReadOnlyMemory<byte> data) = PcapngReader.ReadCustom(block);
        ReadOnlySpan<byte> d = data.Span;
        if (pen != EnterpriseNumber || d.Length < 4 || !d[..4].SequenceEqual("SSTM"u8))
            return false;
        long at = block.BodyOffset(4);
        if (d.Length < HeaderLength)
            throw new PcapngFormatException(at, $"sysstream block at offset {block.Offset} is cut short ({d.Length} bytes of data)");
        ushort rawKind = ReadU16(d[4..], block.BigEndian);
        ushort version = ReadU16(d[6..], block.BigEndian);
        uint length = ReadU32(d[8..], block.BigEndian);
        if (version != Version)
            throw new PcapngFormatException(at + 6, $"sysstream block at offset {block.Offset} has version {version}; this sysstream reads version {Version}");
        if (length > (uint)(d.Length - HeaderLength) || d.Length - HeaderLength - length > 3)
            throw new PcapngFormatException(at + 8, $"sysstream block at offset {block.Offset} claims {length} bytes of payload, its block holds {d.Length - HeaderLength}");
        kind = (SysstreamBlockKind)rawKind;
        int expected = kind switch
        {
            SysstreamBlockKind.Syscall => Unsafe.SizeOf<SyscallEvent>(),
            SysstreamBlockKind.SyscallUnix => Unsafe.SizeOf<SyscallEventUnix>(),
            SysstreamBlockKind.LostSyscalls or SysstreamBlockKind.LostPackets => Unsafe.SizeOf<LostEvent>(),
            SysstreamBlockKind.Session => -1,
            _ => -2,
        };
        if (expected == -2)
            throw new PcapngFormatException(at + 4, $"sysstream block at offset {block.Offset} is of unknown kind {rawKind}");
        if (expected == -1 ? length < 8 : length != (uint)expected)
            throw new PcapngFormatException(at + 8, $"sysstream {kind} block at offset {block.Offset} has {length} bytes of payload, expected {(expected < 0 ? "at least 8" : expected.ToString(System.Globalization.CultureInfo.InvariantCulture))}");
        if (block.BigEndian && expected > 0)
            throw new PcapngFormatException(block.Offset, $"sysstream {kind} block at offset {block.Offset} in a big-endian section: kernel records are little-endian");
        payload = data.Slice(HeaderLength, (int)length);
        return true;
    }

    /// <summary>The kernel struct in a payload checked by <see cref="TryParse"/>.</summary>
    public static T Read<T>(ReadOnlyMemory<byte> payload) where T : unmanaged => MemoryMarshal.Read<T>(payload.Span);

    /// <summary>The clock offset and JSON text of a session payload.</summary>
    public static (long RealtimeOffsetNs, ReadOnlyMemory<byte> Json) ReadSession(ReadOnlyMemory<byte> payload) =>
        (BinaryPrimitives.ReadInt64LittleEndian(payload.Span), payload[8..]);

    private static uint ReadU32(ReadOnlySpan<byte> s, bool be) =>
        be ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    private static ushort ReadU16(ReadOnlySpan<byte> s, bool be) =>
        be ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);
}
