namespace Sysstream.Btf;

/// <summary>A struct or union member; <see cref="BitfieldSize"/> is 0 unless it is a bitfield.</summary>
public readonly record struct BtfMember(string Name, int TypeId, uint BitOffset, uint BitfieldSize);

/// <summary>An enum member. Signed enums are sign-extended; unsigned 64-bit values above long.MaxValue wrap.</summary>
public readonly record struct BtfEnumValue(string Name, long Value);

/// <summary>A function parameter (a trailing one with type 0 and no name means "...").</summary>
public readonly record struct BtfParam(string Name, int TypeId);

/// <summary>The element type, index type and element count of an array.</summary>
public readonly record struct BtfArray(int ElementTypeId, int IndexTypeId, uint Count);

/// <summary>A variable inside a data section: its VAR (or FUNC) type id, offset and size.</summary>
public readonly record struct BtfVarSecInfo(int TypeId, uint Offset, uint Size);

/// <summary>One BTF type record; the kind-specific properties are empty or zero for other kinds.</summary>
public sealed class BtfType
{
    /// <summary>The type id (its 1-based position in the type section; 0 is void).</summary>
    public int Id { get; internal init; }

    /// <summary>The kind of the record.</summary>
    public BtfKind Kind { get; internal init; }

    /// <summary>The name, or the empty string for anonymous types.</summary>
    public string Name { get; internal init; } = "";

    /// <summary>The raw kind_flag bit: bitfield offsets (struct/union), signedness (enums), union (fwd).</summary>
    public bool KindFlag { get; internal init; }

    /// <summary>The size in bytes of an Int, Struct, Union, Enum, Enum64, Float or Datasec; 0 otherwise.</summary>
    public uint Size { get; internal init; }

    /// <summary>The referenced type of a Ptr, Typedef, qualifier, TypeTag, Func, Var or DeclTag, the return type of a FuncProto.</summary>
    public int TypeId { get; internal init; }

    /// <summary>Int: the encoding bits.</summary>
    public BtfIntEncoding IntEncoding { get; internal init; }

    /// <summary>Int: the bit offset of the value inside its bytes (normally 0).</summary>
    public int IntBitOffset { get; internal init; }

    /// <summary>Int: the number of value bits.</summary>
    public int IntBits { get; internal init; }

    /// <summary>Array: element type, index type and count.</summary>
    public BtfArray Array { get; internal init; }

    /// <summary>Struct or Union: the members in declaration order.</summary>
    public IReadOnlyList<BtfMember> Members { get; internal init; } = [];

    /// <summary>Enum or Enum64: the members in declaration order.</summary>
    public IReadOnlyList<BtfEnumValue> EnumValues { get; internal init; } = [];

    /// <summary>FuncProto: the parameters.</summary>
    public IReadOnlyList<BtfParam> Params { get; internal init; } = [];

    /// <summary>Datasec: the variables in the section.</summary>
    public IReadOnlyList<BtfVarSecInfo> Variables { get; internal init; } = [];

    /// <summary>Func or Var: the linkage (0 static, 1 global, 2 extern).</summary>
    public uint Linkage { get; internal init; }

    /// <summary>DeclTag: the member or parameter index it applies to, or -1 for the type itself.</summary>
    public int ComponentIndex { get; internal init; }

    /// <summary>Enum or Enum64: whether the values are signed.</summary>
    public bool IsSigned => (Kind is BtfKind.Enum or BtfKind.Enum64) && KindFlag;

    /// <summary>Where the record starts in the input, for error messages.</summary>
    internal long Offset { get; init; }

    /// <summary>The C spelling of the kind and name, such as "struct ss_sock", for messages.</summary>
    public override string ToString()
    {
        string name = Name.Length == 0 ? "(anon)" : Name;
        return Kind switch
        {
            BtfKind.Struct => $"struct {name}",
            BtfKind.Union => $"union {name}",
            BtfKind.Enum or BtfKind.Enum64 => $"enum {name}",
            BtfKind.Void => "void",
            _ => $"{Kind} {name}",
        };
    }
}
