namespace Sysstream.Btf;

/// <summary>The types of one BTF blob, indexed by type id (id 0 is void).</summary>
public sealed class BtfTypeTable
{
    private static readonly BtfType VoidType = new() { Id = 0, Kind = BtfKind.Void };

    private readonly BtfType[] _types;

    internal BtfTypeTable(BtfType[] types)
    {
        _types = types;
    }

    /// <summary>The number of type ids, including void (so the last id is Count - 1).</summary>
    public int Count => _types.Length;

    /// <summary>All types in id order, starting with void at index 0.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>The type with the given id.</summary>
    public BtfType this[int id]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _types.Length);
            return _types[id];
        }
    }

    /// <summary>The first type (lowest id) of the given kind and name, or null.</summary>
    public BtfType? Find(BtfKind kind, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        for (int i = 1; i < _types.Length; i++)
        {
            BtfType t = _types[i];
            if (t.Kind == kind && string.Equals(t.Name, name, StringComparison.Ordinal))
            {
                return t;
            }
        }
        return null;
    }

    /// <summary>The first struct with the given name, or null.</summary>
    public BtfType? FindStruct(string name) => Find(BtfKind.Struct, name);

    /// <summary>The first enum (32- or 64-bit) with the given name, or null.</summary>
    public BtfType? FindEnum(string name) => Find(BtfKind.Enum, name) ?? Find(BtfKind.Enum64, name);

    /// <summary>Follows typedef, const, volatile, restrict and type-tag links to the underlying type.</summary>
    /// <exception cref="BtfFormatException">The chain loops.</exception>
    public BtfType Resolve(int id)
    {
        BtfType t = this[id];
        for (int steps = 0; steps < _types.Length; steps++)
        {
            if (!IsModifier(t.Kind))
            {
                return t;
            }
            t = _types[t.TypeId];
        }
        throw new BtfFormatException($"type {id} is part of a typedef/qualifier loop", this[id].Offset);
    }

    /// <summary>The size in bytes of a type after <see cref="Resolve"/>; false for void, functions and forward declarations.</summary>
    /// <exception cref="BtfFormatException">The type loops or its size overflows.</exception>
    public bool TryGetSize(int id, out ulong size)
    {
        size = 0;
        ulong count = 1;
        BtfType t = this[id];
        for (int steps = 0; steps < _types.Length; steps++)
        {
            switch (t.Kind)
            {
                case BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag:
                    t = _types[t.TypeId];
                    continue;
                case BtfKind.Array:
                    count = Multiply(count, t.Array.Count, id);
                    t = _types[t.Array.ElementTypeId];
                    continue;
                case BtfKind.Ptr:
                    size = Multiply(count, 8, id);
                    return true;
                case BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64
                    or BtfKind.Float or BtfKind.Datasec:
                    size = Multiply(count, t.Size, id);
                    return true;
                default:
                    return false;
            }
        }
        throw new BtfFormatException($"type {id} is part of a type loop", this[id].Offset);
    }

    /// <summary>Whether a kind only qualifies or renames another type.</summary>
    internal static bool IsModifier(BtfKind kind) =>
        kind is BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag;

    private ulong Multiply(ulong a, ulong b, int id)
    {
        ulong high = Math.BigMul(a, b, out ulong low);
        if (high != 0)
        {
            throw new BtfFormatException($"the size of type {id} overflows", this[id].Offset);
        }
        return low;
    }

    /// <summary>The placeholder record for type id 0.</summary>
    internal static BtfType Void => VoidType;
}
