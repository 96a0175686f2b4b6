using System.Buffers.Binary;
using System.Text;

namespace Sysstream.Btf;

/// <summary>Reads the BTF of an ELF64 little-endian object (its .BTF section) or a raw BTF blob such as /sys/kernel/btf/vmlinux.</summary>
/// <remarks>Only base BTF is supported: split BTF (kernel modules) refers to ids of another blob.</remarks>
public static class BtfReader
{
    private const ushort Magic = 0xEB9F;
    private const ushort SwappedMagic = 0x9FEB;
    private const int HeaderSize = 24;
    private const int TypeRecordSize = 12;
    private const int MaxKind = (int)BtfKind.Enum64;

    /// <summary>Parses the .BTF section of an ELF64 little-endian file; offsets in errors are file offsets.</summary>
    /// <exception cref="BtfFormatException">The file is not such an ELF file, has no .BTF section or the BTF is malformed.</exception>
    public static BtfTypeTable ReadElf(ReadOnlySpan<byte> elf)
    {
        if (!ElfReader.TryFindSection(elf, ".BTF", out int offset, out int length))
        {
            throw new BtfFormatException("the ELF file has no .BTF section", 0);
        }
        return Parse(elf.Slice(offset, length), offset);
    }

    /// <summary>Parses a raw BTF blob (header, type section, string section).</summary>
    /// <exception cref="BtfFormatException">The blob is malformed.</exception>
    public static BtfTypeTable ReadRaw(ReadOnlySpan<byte> btf) => Parse(btf, 0);

    /// <summary>Parses ELF or raw BTF, telling them apart by the ELF magic.</summary>
    /// <exception cref="BtfFormatException">The input is malformed.</exception>
    public static BtfTypeTable Read(ReadOnlySpan<byte> data) =>
        ElfReader.HasElfMagic(data) ? ReadElf(data) : ReadRaw(data);

    private static BtfTypeTable Parse(ReadOnlySpan<byte> btf, long origin)
    {
        if (btf.Length < HeaderSize)
        {
            throw new BtfFormatException($"BTF is {btf.Length} bytes, shorter than its {HeaderSize}-byte header", origin);
        }
        ushort magic = BinaryPrimitives.ReadUInt16LittleEndian(btf);
        if (magic == SwappedMagic)
        {
            throw new BtfFormatException("big-endian BTF is not supported", origin);
        }
        if (magic != Magic)
        {
            throw new BtfFormatException($"bad BTF magic 0x{magic:x4}", origin);
        }
        if (btf[2] != 1)
        {
            throw new BtfFormatException($"unsupported BTF version {btf[2]}", origin + 2);
        }
        if (btf[3] != 0)
        {
            throw new BtfFormatException($"unsupported BTF header flags 0x{btf[3]:x2}", origin + 3);
        }
        uint hdrLen = BinaryPrimitives.ReadUInt32LittleEndian(btf[4..]);
        uint typeOff = BinaryPrimitives.ReadUInt32LittleEndian(btf[8..]);
        uint typeLen = BinaryPrimitives.ReadUInt32LittleEndian(btf[12..]);
        uint strOff = BinaryPrimitives.ReadUInt32LittleEndian(btf[16..]);
        uint strLen = BinaryPrimitives.ReadUInt32LittleEndian(btf[20..]);

        // A longer header (a newer kernel's) is accepted; its extra fields are not used.
        if (hdrLen < HeaderSize || hdrLen > (uint)btf.Length)
        {
            throw new BtfFormatException($"BTF header length {hdrLen} is outside 24..{btf.Length}", origin + 4);
        }
        ulong dataLen = (ulong)btf.Length - hdrLen;
        if (typeOff % 4 != 0)
        {
            throw new BtfFormatException($"BTF type section offset {typeOff} is not 4-byte aligned", origin + 8);
        }
        if ((ulong)typeOff + typeLen > dataLen)
        {
            throw new BtfFormatException($"BTF type section ({typeOff}+{typeLen}) runs past the data ({dataLen} bytes)", origin + 12);
        }
        if ((ulong)strOff + strLen > dataLen)
        {
            throw new BtfFormatException($"BTF string section ({strOff}+{strLen}) runs past the data ({dataLen} bytes)", origin + 20);
        }
        if (typeLen != 0 && strLen != 0 && typeOff < (ulong)strOff + strLen && strOff < (ulong)typeOff + typeLen)
        {
            throw new BtfFormatException("BTF type and string sections overlap", origin + 16);
        }

        int strStart = (int)(hdrLen + strOff);
        var strings = new StringTable(btf.Slice(strStart, (int)strLen), origin + strStart);
        int typeStart = (int)(hdrLen + typeOff);
        BtfType[] types = ParseTypes(btf.Slice(typeStart, (int)typeLen), origin + typeStart, ref strings);
        CheckReferences(types);
        return new BtfTypeTable(types);
    }

    private static BtfType[] ParseTypes(ReadOnlySpan<byte> section, long origin, ref StringTable strings)
    {
        var types = new List<BtfType> { BtfTypeTable.Void };
        int pos = 0;
        while (pos < section.Length)
        {
            int start = pos;
            long at = origin + start;
            if (section.Length - pos < TypeRecordSize)
            {
                throw new BtfFormatException($"BTF type {types.Count} is truncated", at);
            }
            uint nameOff = ReadU32(section, pos);
            uint info = ReadU32(section, pos + 4);
            uint sizeOrType = ReadU32(section, pos + 8);
            pos += TypeRecordSize;

            int vlen = (int)(info & 0xFFFF);
            int kindValue = (int)((info >> 24) & 0x1F);
            bool kindFlag = (info >> 31) != 0;
            if (kindValue == 0 || kindValue > MaxKind)
            {
                throw new BtfFormatException($"BTF type {types.Count} has unknown kind {kindValue}", at + 4);
            }
            var kind = (BtfKind)kindValue;
            string name = strings.Get(nameOff, at);
            int id = types.Count;

            int trailer = kind switch
            {
                BtfKind.Int or BtfKind.Var or BtfKind.DeclTag => 4,
                BtfKind.Array => 12,
                BtfKind.Struct or BtfKind.Union or BtfKind.Datasec or BtfKind.Enum64 => 12 * vlen,
                BtfKind.Enum or BtfKind.FuncProto => 8 * vlen,
                _ => 0,
            };
            if (section.Length - pos < trailer)
            {
                throw new BtfFormatException($"BTF type {id} ({kind}, vlen {vlen}) is truncated", at);
            }

            BtfType type;
            switch (kind)
            {
                case BtfKind.Int:
                {
                    uint data = ReadU32(section, pos);
                    int bits = (int)(data & 0xFF);
                    int bitOffset = (int)((data >> 16) & 0xFF);
                    if (sizeOrType is not (1 or 2 or 4 or 8 or 16) || bits == 0 || bits + bitOffset > sizeOrType * 8)
                    {
                        throw new BtfFormatException($"BTF int {id} has size {sizeOrType}, {bits} bits at bit {bitOffset}", at);
                    }
                    type = new BtfType
                    {
                        Size = sizeOrType,
                        IntEncoding = (BtfIntEncoding)((data >> 24) & 0xF),
                        IntBitOffset = bitOffset,
                        IntBits = bits,
                        Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at,
                    };
                    break;
                }
                case BtfKind.Ptr or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.TypeTag:
                    type = new BtfType { TypeId = TypeRef(sizeOrType, id, at), Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                case BtfKind.Fwd:
                    type = new BtfType { Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                case BtfKind.Func:
                    type = new BtfType { TypeId = TypeRef(sizeOrType, id, at), Linkage = (uint)vlen, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                case BtfKind.Float:
                    type = new BtfType { Size = sizeOrType, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                case BtfKind.Array:
                    type = new BtfType
                    {
                        Array = new BtfArray(TypeRef(ReadU32(section, pos), id, at), TypeRef(ReadU32(section, pos + 4), id, at), ReadU32(section, pos + 8)),
                        Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at,
                    };
                    break;
                case BtfKind.Struct or BtfKind.Union:
                {
                    var members = new BtfMember[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        int p = pos + 12 * i;
                        long mAt = origin + p;
                        string mName = strings.Get(ReadU32(section, p), mAt);
                        int mType = TypeRef(ReadU32(section, p + 4), id, mAt);
                        uint offset = ReadU32(section, p + 8);
                        members[i] = kindFlag
                            ? new BtfMember(mName, mType, offset & 0xFFFFFF, offset >> 24)
                            : new BtfMember(mName, mType, offset, 0);
                    }
                    type = new BtfType { Size = sizeOrType, Members = members, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                }
                case BtfKind.Enum:
                {
                    var values = new BtfEnumValue[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        int p = pos + 8 * i;
                        uint raw = ReadU32(section, p + 4);
                        long value = kindFlag ? (int)raw : raw;
                        values[i] = new BtfEnumValue(strings.Get(ReadU32(section, p), origin + p), value);
                    }
                    type = new BtfType { Size = sizeOrType, EnumValues = values, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                }
                case BtfKind.Enum64:
                {
                    var values = new BtfEnumValue[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        int p = pos + 12 * i;
                        ulong raw = ReadU32(section, p + 4) | ((ulong)ReadU32(section, p + 8) << 32);
                        values[i] = new BtfEnumValue(strings.Get(ReadU32(section, p), origin + p), unchecked((long)raw));
                    }
                    type = new BtfType { Size = sizeOrType, EnumValues = values, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                }
                case BtfKind.FuncProto:
                {
                    var parameters = new BtfParam[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        int p = pos + 8 * i;
                        parameters[i] = new BtfParam(strings.Get(ReadU32(section, p), origin + p), TypeRef(ReadU32(section, p + 4), id, origin + p));
                    }
                    type = new BtfType { TypeId = TypeRef(sizeOrType, id, at), Params = parameters, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                }
                case BtfKind.Var:
                    type = new BtfType { TypeId = TypeRef(sizeOrType, id, at), Linkage = ReadU32(section, pos), Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                case BtfKind.Datasec:
                {
                    var vars = new BtfVarSecInfo[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        int p = pos + 12 * i;
                        vars[i] = new BtfVarSecInfo(TypeRef(ReadU32(section, p), id, origin + p), ReadU32(section, p + 4), ReadU32(section, p + 8));
                    }
                    type = new BtfType { Size = sizeOrType, Variables = vars, Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                }
                case BtfKind.DeclTag:
                    type = new BtfType { TypeId = TypeRef(sizeOrType, id, at), ComponentIndex = (int)ReadU32(section, pos), Id = id, Kind = kind, Name = name, KindFlag = kindFlag, Offset = at };
                    break;
                default:
                    throw new BtfFormatException($"BTF type {id} has unknown kind {kindValue}", at + 4);
            }
            pos += trailer;
            types.Add(type);
        }
        return types.ToArray();
    }

    /// <summary>A type id as read; ids beyond the table are rejected later by <see cref="CheckReferences"/>.</summary>
    private static int TypeRef(uint value, int id, long at)
    {
        if (value > int.MaxValue)
        {
            throw new BtfFormatException($"BTF type {id} refers to type id {value}", at);
        }
        return (int)value;
    }

    private static void CheckReferences(BtfType[] types)
    {
        int count = types.Length;
        foreach (BtfType t in types)
        {
            switch (t.Kind)
            {
                case BtfKind.Ptr or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.TypeTag or BtfKind.Func or BtfKind.Var or BtfKind.DeclTag:
                    Check(t, t.TypeId);
                    break;
                case BtfKind.Array:
                    Check(t, t.Array.ElementTypeId);
                    Check(t, t.Array.IndexTypeId);
                    break;
                case BtfKind.Struct or BtfKind.Union:
                    foreach (BtfMember m in t.Members)
                    {
                        Check(t, m.TypeId);
                    }
                    break;
                case BtfKind.FuncProto:
                    Check(t, t.TypeId);
                    foreach (BtfParam p in t.Params)
                    {
                        Check(t, p.TypeId);
                    }
                    break;
                case BtfKind.Datasec:
                    foreach (BtfVarSecInfo v in t.Variables)
                    {
                        Check(t, v.TypeId);
                    }
                    break;
            }
        }

        void Check(BtfType t, int target)
        {
            if (target >= count)
            {
                throw new BtfFormatException($"BTF type {t.Id} ({t}) refers to type id {target}, beyond the last id {count - 1}", t.Offset);
            }
        }
    }

    private static uint ReadU32(ReadOnlySpan<byte> span, int pos) => BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(pos, 4));

    /// <summary>The string section: NUL-terminated names addressed by byte offset.</summary>
    private ref struct StringTable
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private Dictionary<uint, string>? _cache;

        public StringTable(ReadOnlySpan<byte> bytes, long origin)
        {
            if (bytes.Length == 0 || bytes[0] != 0)
            {
                throw new BtfFormatException("the BTF string section does not start with an empty string", origin);
            }
            if (bytes[^1] != 0)
            {
                throw new BtfFormatException("the BTF string section does not end with a NUL", origin + bytes.Length - 1);
            }
            _bytes = bytes;
        }

        /// <summary>The string at an offset; <paramref name="at"/> is where the offset was read, for errors.</summary>
        public string Get(uint offset, long at)
        {
            if (offset == 0)
            {
                return "";
            }
            if (offset >= (uint)_bytes.Length)
            {
                throw new BtfFormatException($"BTF name offset {offset} is beyond the {_bytes.Length}-byte string section", at);
            }
            _cache ??= new Dictionary<uint, string>();
            if (_cache.TryGetValue(offset, out string? s))
            {
                return s;
            }
            ReadOnlySpan<byte> rest = _bytes[(int)offset..];
            int end = rest.IndexOf((byte)0); // found: the section ends with a NUL
            s = Encoding.UTF8.GetString(rest[..end]);
            _cache[offset] = s;
            return s;
        }
    }
}
