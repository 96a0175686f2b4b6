using System.Buffers.Binary;
using System.Text;
using Sysstream.Btf;

namespace Sysstream.Tests.Btf;

/// <summary>Builds small raw BTF blobs for tests, record by record.</summary>
internal sealed class BtfBlobBuilder
{
    private readonly List<byte> _strings = [0];
    private readonly Dictionary<string, uint> _stringOffsets = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly List<uint> _types = [];
    private int _nextId = 1;

    public uint Str(string s)
    {
        if (!_stringOffsets.TryGetValue(s, out uint off))
        {
            off = (uint)_strings.Count;
            _strings.AddRange(Encoding.UTF8.GetBytes(s));
            _strings.Add(0);
            _stringOffsets[s] = off;
        }
        return off;
    }

    /// <summary>Appends one record (three header words and the trailer words) and returns its id.</summary>
    public int Raw(uint nameOff, BtfKind kind, int vlen, bool kindFlag, uint sizeOrType, params uint[] trailer)
    {
        _types.Add(nameOff);
        _types.Add(((uint)kind << 24) | (uint)vlen | (kindFlag ? 1u << 31 : 0));
        _types.Add(sizeOrType);
        _types.AddRange(trailer);
        return _nextId++;
    }

    public int Int(string name, uint size, bool signed = false) =>
        Raw(Str(name), BtfKind.Int, 0, false, size, (signed ? 1u << 24 : 0) | (size * 8));

    public int Ptr(int type) => Raw(0, BtfKind.Ptr, 0, false, (uint)type);

    public int Typedef(string name, int type) => Raw(Str(name), BtfKind.Typedef, 0, false, (uint)type);

    public int Const(int type) => Raw(0, BtfKind.Const, 0, false, (uint)type);

    public int Array(int element, int index, uint count) => Raw(0, BtfKind.Array, 0, false, 0, (uint)element, (uint)index, count);

    /// <summary>A struct; members are (name, type, bit offset, bitfield size).</summary>
    public int Struct(string name, uint size, params (string Name, int Type, uint BitOffset, uint BitfieldSize)[] members) =>
        Composite(BtfKind.Struct, name, size, members);

    public int Union(string name, uint size, params (string Name, int Type, uint BitOffset, uint BitfieldSize)[] members) =>
        Composite(BtfKind.Union, name, size, members);

    public int Enum(string name, uint size, bool signed, params (string Name, long Value)[] values)
    {
        var trailer = new List<uint>();
        foreach ((string n, long v) in values)
        {
            trailer.Add(Str(n));
            trailer.Add(unchecked((uint)v));
        }
        return Raw(Str(name), BtfKind.Enum, values.Length, signed, size, [.. trailer]);
    }

    public int Enum64(string name, bool signed, params (string Name, long Value)[] values)
    {
        var trailer = new List<uint>();
        foreach ((string n, long v) in values)
        {
            trailer.Add(Str(n));
            trailer.Add(unchecked((uint)v));
            trailer.Add(unchecked((uint)(v >> 32)));
        }
        return Raw(Str(name), BtfKind.Enum64, values.Length, signed, 8, [.. trailer]);
    }

    public byte[] Build()
    {
        int typeLen = _types.Count * 4;
        var blob = new byte[24 + typeLen + _strings.Count];
        BinaryPrimitives.WriteUInt16LittleEndian(blob, 0xEB9F);
        blob[2] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(4), 24);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(12), (uint)typeLen);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(16), (uint)typeLen);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(20), (uint)_strings.Count);
        for (int i = 0; i < _types.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(24 + 4 * i), _types[i]);
        }
        _strings.CopyTo(blob, 24 + typeLen);
        return blob;
    }

    private int Composite(BtfKind kind, string name, uint size, (string Name, int Type, uint BitOffset, uint BitfieldSize)[] members)
    {
        bool kindFlag = members.Any(m => m.BitfieldSize != 0);
        var trailer = new List<uint>();
        foreach (var m in members)
        {
            trailer.Add(Str(m.Name));
            trailer.Add((uint)m.Type);
            trailer.Add(kindFlag ? (m.BitfieldSize << 24) | m.BitOffset : m.BitOffset);
        }
        return Raw(Str(name), kind, members.Length, kindFlag, size, [.. trailer]);
    }
}
