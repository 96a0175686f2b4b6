using System.Buffers.Binary;
using System.Text;
using Sysstream.Capture.Pcapng;
using Xunit;

namespace Sysstream.Tests.Capture;

/// <summary>Our pcapng writer and reader against each other, on every block type, and the reader
/// on hand-made files (big-endian, several sections, unknown blocks) and on broken ones.</summary>
public class PcapngFormatTests
{
    private const uint Pen = 32473;

    private static byte[] SampleFile()
    {
        var ms = new MemoryStream();
        var w = new PcapngWriter(ms, leaveOpen: true);
        w.BeginSectionHeader();
        w.AddStringOption(OptionCode.Comment, "a section");
        w.AddStringOption(OptionCode.ShbUserApplication, "test");
        w.EndBlock();
        int lo = w.BeginInterface(LinkType.Raw, 65535);
        w.AddStringOption(OptionCode.IfName, "lo");
        w.AddUInt8Option(OptionCode.IfTsResol, 9);
        w.EndBlock();
        int eth = w.BeginInterface(LinkType.Ethernet, 1500); // no options: microseconds
        w.EndBlock();
        w.BeginEnhancedPacket(lo, 1_700_000_000_123_456_789UL, [1, 2, 3, 4, 5], 9);
        w.AddOption(OptionCode.Comment, "first"u8);
        w.AddOption(OptionCode.Comment, "second, with ünïcode"u8);
        w.AddUInt32Option(OptionCode.EpbFlags, EpbFlags.Outbound);
        w.AddCustomOption(OptionCode.CustomStringCopyable, Pen, "{\"a\":1}"u8);
        w.EndBlock();
        w.BeginEnhancedPacket(eth, 1_700_000_000_123_456UL, new byte[64], 64); // no options
        w.EndBlock();
        w.WriteCustomBlock(Pen, "abc"u8, copyable: true);
        w.WriteCustomBlock(Pen, ReadOnlySpan<byte>.Empty, copyable: false);
        return ms.ToArray();
    }

    [Fact]
    public void Writer_and_reader_agree_on_every_block_type()
    {
        byte[] file = SampleFile();
        var r = new PcapngReader(new MemoryStream(file));
        var types = new List<uint>();
        long expectedOffset = 0;
        while (r.TryRead(out PcapngBlock b))
        {
            Assert.Equal(expectedOffset, b.Offset);
            Assert.Equal(0, b.TotalLength % 4);
            expectedOffset += b.TotalLength;
            types.Add(b.Type);
            switch (types.Count)
            {
                case 1:
                    var shbOptions = new List<(ushort, string)>();
                    foreach (PcapngOption o in PcapngReader.Options(b, 16))
                        shbOptions.Add((o.Code, Encoding.UTF8.GetString(o.Value)));
                    Assert.Equal([(OptionCode.Comment, "a section"), (OptionCode.ShbUserApplication, "test")], shbOptions);
                    break;
                case 4:
                {
                    PcapngPacket p = r.ReadPacket(b);
                    Assert.Equal(0, p.InterfaceId);
                    Assert.Equal(1_700_000_000_123_456_789UL, r.Interfaces[0].ToNanoseconds(p.Timestamp));
                    Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, p.Data.ToArray());
                    Assert.Equal(9u, p.OriginalLength);
                    var options = new List<(ushort, byte[])>();
                    foreach (PcapngOption o in PcapngReader.Options(b, p.OptionsAt))
                        options.Add((o.Code, o.Value.ToArray()));
                    Assert.Equal(4, options.Count);
                    Assert.Equal("first", Encoding.UTF8.GetString(options[0].Item2));
                    Assert.Equal("second, with ünïcode", Encoding.UTF8.GetString(options[1].Item2));
                    Assert.Equal(OptionCode.EpbFlags, options[2].Item1);
                    Assert.Equal(BitConverter.GetBytes(EpbFlags.Outbound), options[2].Item2);
                    Assert.Equal(OptionCode.CustomStringCopyable, options[3].Item1);
                    Assert.Equal(Pen, BinaryPrimitives.ReadUInt32LittleEndian(options[3].Item2));
                    Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(options[3].Item2.AsSpan(4)));
                    break;
                }
                case 5:
                {
                    PcapngPacket p = r.ReadPacket(b);
                    Assert.Equal(1, p.InterfaceId);
                    Assert.Equal(1_700_000_000_123_456_000UL, r.Interfaces[1].ToNanoseconds(p.Timestamp));
                    Assert.Equal(64, p.Data.Length);
                    Assert.Equal(p.OptionsAt, b.Body.Length);
                    break;
                }
                case 6:
                {
                    Assert.Equal(BlockType.CustomCopyable, b.Type);
                    (uint pen, ReadOnlyMemory<byte> data) = PcapngReader.ReadCustom(b);
                    Assert.Equal(Pen, pen);
                    Assert.Equal("abc\0"u8.ToArray(), data.ToArray()); // padded to 32 bits
                    break;
                }
                case 7:
                    Assert.Equal(BlockType.CustomNotCopyable, b.Type);
                    Assert.Equal(0, PcapngReader.ReadCustom(b).Data.Length);
                    break;
            }
        }
        Assert.Equal(file.Length, expectedOffset);
        Assert.Equal([BlockType.SectionHeader, BlockType.InterfaceDescription, BlockType.InterfaceDescription,
            BlockType.EnhancedPacket, BlockType.EnhancedPacket, BlockType.CustomCopyable, BlockType.CustomNotCopyable], types);
        Assert.Equal(2, r.Interfaces.Count);
        Assert.Equal("lo", r.Interfaces[0].Name);
        Assert.Equal(LinkType.Raw, r.Interfaces[0].LinkType);
        Assert.Equal(65535u, r.Interfaces[0].SnapLength);
        Assert.Equal((byte)6, r.Interfaces[1].TsResol);
    }

    [Fact]
    public void Writer_refuses_misuse()
    {
        var w = new PcapngWriter(new MemoryStream());
        Assert.Throws<InvalidOperationException>(() => w.BeginInterface(LinkType.Raw, 100));
        w.BeginSectionHeader();
        w.EndBlock();
        Assert.Throws<ArgumentOutOfRangeException>(() => w.BeginEnhancedPacket(0, 0, [1], 1));
        w.BeginInterface(LinkType.Raw, 100);
        Assert.Throws<InvalidOperationException>(() => w.BeginInterface(LinkType.Raw, 100));
        w.EndBlock();
        Assert.Throws<ArgumentOutOfRangeException>(() => w.BeginEnhancedPacket(0, 0, [1, 2], 1));
        Assert.Throws<ArgumentException>(() => { w.BeginEnhancedPacket(0, 0, [1], 1); w.AddCustomOption(OptionCode.Comment, Pen, [1]); });
    }

    /// <summary>A big-endian file as another tool would write it: SHB, IDB (tsresol 9), EPB with a comment.</summary>
    public static byte[] BigEndianFile()
    {
        var b = new List<byte>();
        void U16(ushort v) { b.Add((byte)(v >> 8)); b.Add((byte)v); }
        void U32(uint v) { U16((ushort)(v >> 16)); U16((ushort)v); }
        // SHB: 28 bytes, no options
        U32(BlockType.SectionHeader); U32(28); U32(0x1A2B3C4D); U16(1); U16(0); U32(0xffffffff); U32(0xffffffff); U32(28);
        // IDB: 16 + option (4 + 4 padded) + end (4) + trailer = 32
        U32(1); U32(32); U16(LinkType.Raw); U16(0); U32(0);
        U16(OptionCode.IfTsResol); U16(1); b.AddRange([9, 0, 0, 0]); U16(0); U16(0); U32(32);
        // EPB: 28 fixed + 4 data + comment (4 + 4) + end (4) + trailer (4) = 48
        U32(6); U32(48); U32(0); U32(0); U32(1_000_000_000); U32(4); U32(4); b.AddRange([0x45, 0, 0, 4]);
        U16(OptionCode.Comment); U16(4); b.AddRange("hi!!"u8.ToArray()); U16(0); U16(0); U32(48);
        return b.ToArray();
    }

    [Fact]
    public void Reader_reads_a_big_endian_section()
    {
        var r = new PcapngReader(new MemoryStream(BigEndianFile()));
        Assert.True(r.TryRead(out PcapngBlock shb));
        Assert.True(shb.BigEndian);
        Assert.True(r.TryRead(out PcapngBlock idb));
        Assert.Equal(BlockType.InterfaceDescription, idb.Type);
        Assert.Equal((byte)9, r.Interfaces[0].TsResol);
        Assert.True(r.TryRead(out PcapngBlock epb));
        PcapngPacket p = r.ReadPacket(epb);
        Assert.Equal(1_000_000_000UL, r.Interfaces[0].ToNanoseconds(p.Timestamp));
        Assert.Equal(new byte[] { 0x45, 0, 0, 4 }, p.Data.ToArray());
        foreach (PcapngOption o in PcapngReader.Options(epb, p.OptionsAt))
            Assert.Equal("hi!!", Encoding.ASCII.GetString(o.Value));
        Assert.False(r.TryRead(out _));
    }

    [Fact]
    public void Reader_skips_unknown_blocks_and_reads_every_section()
    {
        byte[] one = SampleFile();
        var ms = new MemoryStream();
        ms.Write(one);
        // an unknown local-use block: type with the high bit set, 16 bytes
        Span<byte> unknown = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(unknown, 0x80001234);
        BinaryPrimitives.WriteUInt32LittleEndian(unknown[4..], 16);
        BinaryPrimitives.WriteUInt32LittleEndian(unknown[12..], 16);
        ms.Write(unknown);
        ms.Write(BigEndianFile());
        var r = new PcapngReader(new MemoryStream(ms.ToArray()));
        int blocks = 0, packets = 0;
        while (r.TryRead(out PcapngBlock b))
        {
            blocks++;
            if (b.Type == BlockType.EnhancedPacket)
                packets++;
        }
        Assert.Equal(7 + 1 + 3, blocks);
        Assert.Equal(3, packets);
        Assert.Equal(2, r.Sections);
        Assert.Single(r.Interfaces); // the second section's
    }

    [Fact]
    public void Truncation_anywhere_inside_a_block_names_its_offset()
    {
        byte[] file = SampleFile();
        var boundaries = new HashSet<long> { 0 };
        var r0 = new PcapngReader(new MemoryStream(file));
        while (r0.TryRead(out PcapngBlock b))
            boundaries.Add(b.Offset + b.TotalLength);
        for (int cut = 1; cut < file.Length; cut++)
        {
            var r = new PcapngReader(new MemoryStream(file, 0, cut));
            if (boundaries.Contains(cut))
            {
                while (r.TryRead(out _)) { }
                continue; // a file cut between blocks is a shorter valid file
            }
            var ex = Assert.Throws<PcapngFormatException>(() => { while (r.TryRead(out _)) { } });
            Assert.InRange(ex.Offset, 0, cut);
            Assert.Contains("truncated", ex.Message);
        }
    }

    [Theory]
    [InlineData(0, 0x11, "not a pcapng file")]              // first byte of the block type
    [InlineData(8, 0x00, "byte-order magic")]               // SHB magic
    [InlineData(12, 2, "version 2.0")]                      // SHB major version
    public void Broken_headers_are_named(int at, byte value, string expected)
    {
        byte[] file = SampleFile();
        file[at] = value;
        var ex = Assert.Throws<PcapngFormatException>(() => ReadAll(file));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Inconsistent_blocks_are_named_with_their_offset()
    {
        byte[] good = SampleFile();
        (long shbLen, long idb1, long epb1) = (BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(4)), 0, 0);
        idb1 = shbLen;
        epb1 = idb1 + BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan((int)idb1 + 4));
        epb1 += BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan((int)epb1 + 4)); // past the second IDB

        byte[] f = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan((int)epb1 + 8), 7); // interface 7
        Assert.Contains("interface 7", Assert.Throws<PcapngFormatException>(() => ReadAll(f)).Message);

        f = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan((int)epb1 + 20), 5000); // captured length
        var ex = Assert.Throws<PcapngFormatException>(() => ReadAll(f));
        Assert.Equal(epb1 + 20, ex.Offset);

        f = (byte[])good.Clone();
        int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan((int)epb1 + 4));
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan((int)epb1 + len - 4), 8); // trailer
        Assert.Contains("trailing length", Assert.Throws<PcapngFormatException>(() => ReadAll(f)).Message);

        f = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan((int)epb1 + 4), 0x7ffffff0); // absurd length
        Assert.Equal(epb1 + 4, Assert.Throws<PcapngFormatException>(() => ReadAll(f)).Offset);

        f = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan((int)epb1 + 28 + 8 + 2), 0x7fff); // first option's length
        Assert.Contains("runs past the end", Assert.Throws<PcapngFormatException>(() => ReadAll(f)).Message);
    }

    [Fact]
    public void An_empty_input_is_not_a_pcapng_file()
    {
        var ex = Assert.Throws<PcapngFormatException>(() => ReadAll([]));
        Assert.Equal(0, ex.Offset);
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void A_pipe_is_read_like_a_file()
    {
        byte[] file = SampleFile();
        int blocks = 0;
        var r = new PcapngReader(new OneByteAtATime(file));
        while (r.TryRead(out _))
            blocks++;
        Assert.Equal(7, blocks);
        var cut = new PcapngReader(new OneByteAtATime(file[..^3]));
        Assert.Contains("truncated", Assert.Throws<PcapngFormatException>(() => { while (cut.TryRead(out _)) { } }).Message);
    }

    private static int ReadAll(byte[] file)
    {
        var r = new PcapngReader(new MemoryStream(file));
        int n = 0;
        while (r.TryRead(out _))
            n++;
        return n;
    }

    /// <summary>A non-seekable stream that hands out one byte per read, like a slow pipe.</summary>
    private sealed class OneByteAtATime(byte[] data) : Stream
    {
        private int _at;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _at; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_at >= data.Length || count == 0)
                return 0;
            buffer[offset] = data[_at++];
            return 1;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
