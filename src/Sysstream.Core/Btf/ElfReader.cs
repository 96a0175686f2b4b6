using System.Buffers.Binary;

namespace Sysstream.Btf;

/// <summary>Finds a named section in an ELF64 little-endian file, checking every offset against the input.</summary>
internal static class ElfReader
{
    private const int ElfHeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const uint ShtNobits = 8;
    private const ushort ShnXindex = 0xFFFF;

    /// <summary>Whether the input starts with the ELF magic.</summary>
    public static bool HasElfMagic(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && data[0] == 0x7F && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F';

    /// <summary>The file offset and size of the first section with the given name; false if there is none.</summary>
    public static bool TryFindSection(ReadOnlySpan<byte> elf, string name, out int offset, out int length)
    {
        offset = 0;
        length = 0;
        if (elf.Length < ElfHeaderSize)
        {
            throw new BtfFormatException($"ELF header truncated: the file has {elf.Length} bytes", 0);
        }
        if (!HasElfMagic(elf))
        {
            throw new BtfFormatException("not an ELF file", 0);
        }
        if (elf[4] != 2)
        {
            throw new BtfFormatException($"not an ELF64 file (class {elf[4]})", 4);
        }
        if (elf[5] != 1)
        {
            throw new BtfFormatException($"not a little-endian ELF file (data encoding {elf[5]})", 5);
        }

        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        ulong shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        uint shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3E..]);
        if (shoff == 0)
        {
            throw new BtfFormatException("the ELF file has no section header table", 0x28);
        }
        if (shentsize < SectionHeaderSize)
        {
            throw new BtfFormatException($"ELF section header size {shentsize} is below {SectionHeaderSize}", 0x3A);
        }

        // Section 0 holds the real count and string-table index when they do not fit the ELF header.
        ReadOnlySpan<byte> first = SectionHeader(elf, shoff, shentsize, 0);
        if (shnum == 0)
        {
            shnum = BinaryPrimitives.ReadUInt64LittleEndian(first[32..]);
        }
        if (shstrndx == ShnXindex)
        {
            shstrndx = BinaryPrimitives.ReadUInt32LittleEndian(first[40..]);
        }
        if (shnum > (ulong)elf.Length / shentsize || shoff + shnum * shentsize > (ulong)elf.Length)
        {
            throw new BtfFormatException($"ELF section header table ({shnum} entries) runs past the end of the file", 0x28);
        }
        if (shstrndx == 0 || shstrndx >= shnum)
        {
            throw new BtfFormatException($"ELF section name table index {shstrndx} is invalid", 0x3E);
        }

        ReadOnlySpan<byte> names = SectionData(elf, SectionHeader(elf, shoff, shentsize, shstrndx), SectionHeaderOffset(shoff, shentsize, shstrndx));
        for (ulong i = 0; i < shnum; i++)
        {
            ReadOnlySpan<byte> header = SectionHeader(elf, shoff, shentsize, i);
            long headerOffset = SectionHeaderOffset(shoff, shentsize, i);
            uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (!NameEquals(names, nameOffset, name, headerOffset))
            {
                continue;
            }
            ReadOnlySpan<byte> data = SectionData(elf, header, headerOffset);
            offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
            length = data.Length;
            return true;
        }
        return false;
    }

    private static long SectionHeaderOffset(ulong shoff, ushort shentsize, ulong index) => (long)(shoff + index * shentsize);

    private static ReadOnlySpan<byte> SectionHeader(ReadOnlySpan<byte> elf, ulong shoff, ushort shentsize, ulong index)
    {
        // shoff and index are bounded by the caller or checked here before any arithmetic can overflow.
        if (shoff > (ulong)elf.Length || index > (ulong)elf.Length || shoff + index * shentsize + SectionHeaderSize > (ulong)elf.Length)
        {
            throw new BtfFormatException($"ELF section header {index} runs past the end of the file", 0x28);
        }
        return elf.Slice((int)(shoff + index * shentsize), SectionHeaderSize);
    }

    private static ReadOnlySpan<byte> SectionData(ReadOnlySpan<byte> elf, ReadOnlySpan<byte> header, long headerOffset)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(header[32..]);
        if (type == ShtNobits)
        {
            throw new BtfFormatException("the ELF section has no data in the file (SHT_NOBITS)", headerOffset + 4);
        }
        if (offset > (ulong)elf.Length || size > (ulong)elf.Length - offset)
        {
            throw new BtfFormatException($"ELF section data ({offset}+{size}) runs past the end of the file", headerOffset + 24);
        }
        return elf.Slice((int)offset, (int)size);
    }

    private static bool NameEquals(ReadOnlySpan<byte> names, uint nameOffset, string name, long headerOffset)
    {
        if (nameOffset >= (uint)names.Length)
        {
            throw new BtfFormatException($"ELF section name offset {nameOffset} is beyond the name table", headerOffset);
        }
        ReadOnlySpan<byte> rest = names[(int)nameOffset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
        {
            throw new BtfFormatException("ELF section name is not NUL-terminated", headerOffset);
        }
        if (end != name.Length)
        {
            return false;
        }
        for (int i = 0; i < end; i++)
        {
            if (rest[i] != name[i])
            {
                return false;
            }
        }
        return true;
    }
}
