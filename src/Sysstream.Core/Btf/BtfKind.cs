namespace Sysstream.Btf;

/// <summary>The kind of a BTF type record (the values of BTF_KIND_* in the kernel's btf.h).</summary>
public enum BtfKind : byte
{
    /// <summary>Type id 0: void. Never appears as a record.</summary>
    Void = 0,
    /// <summary>An integer (also char and _Bool).</summary>
    Int = 1,
    /// <summary>A pointer.</summary>
    Ptr = 2,
    /// <summary>An array.</summary>
    Array = 3,
    /// <summary>A struct.</summary>
    Struct = 4,
    /// <summary>A union.</summary>
    Union = 5,
    /// <summary>An enum with 32-bit values.</summary>
    Enum = 6,
    /// <summary>A forward declaration of a struct or union.</summary>
    Fwd = 7,
    /// <summary>A typedef.</summary>
    Typedef = 8,
    /// <summary>The volatile qualifier.</summary>
    Volatile = 9,
    /// <summary>The const qualifier.</summary>
    Const = 10,
    /// <summary>The restrict qualifier.</summary>
    Restrict = 11,
    /// <summary>A function (its type is a FuncProto).</summary>
    Func = 12,
    /// <summary>A function signature.</summary>
    FuncProto = 13,
    /// <summary>A global variable.</summary>
    Var = 14,
    /// <summary>A data section and the variables in it.</summary>
    Datasec = 15,
    /// <summary>A floating-point type.</summary>
    Float = 16,
    /// <summary>A declaration tag (btf_decl_tag attribute).</summary>
    DeclTag = 17,
    /// <summary>A type tag (btf_type_tag attribute).</summary>
    TypeTag = 18,
    /// <summary>An enum with 64-bit values.</summary>
    Enum64 = 19,
}

/// <summary>The encoding bits of a BTF INT.</summary>
[Flags]
public enum BtfIntEncoding : byte
{
    /// <summary>Unsigned.</summary>
    None = 0,
    /// <summary>Signed.</summary>
    Signed = 1,
    /// <summary>A character type (only for printing).</summary>
    Char = 2,
    /// <summary>A boolean (only for printing).</summary>
    Bool = 4,
}
