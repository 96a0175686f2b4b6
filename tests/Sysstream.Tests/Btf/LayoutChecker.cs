using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sysstream.Btf;
using Xunit;

namespace Sysstream.Tests.Btf;

/// <summary>Compares the ss_* types of a BTF blob with the C# types of the same generated names.</summary>
internal static class LayoutChecker
{
    private static readonly MethodInfo UnsafeSizeOf = typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!;

    /// <summary>One line per difference; empty when every struct and enum matches.</summary>
    public static List<string> Check(BtfTypeTable btf, Assembly assembly)
    {
        var problems = new List<string>();
        foreach (BtfType t in CSharpStructEmitter.SelectTypes(btf))
        {
            string name = CSharpStructEmitter.TypeName(t.Name);
            Type? type = assembly.GetType($"{CSharpStructEmitter.Namespace}.{name}");
            if (type == null)
            {
                problems.Add($"{t}: no C# type {name}");
            }
            else if (t.Kind == BtfKind.Struct)
            {
                CheckStruct(btf, t, type, problems);
            }
            else
            {
                CheckEnum(t, type, problems);
            }
        }
        return problems;
    }

    private static void CheckStruct(BtfTypeTable btf, BtfType t, Type type, List<string> problems)
    {
        if (!type.IsValueType || type.IsEnum)
        {
            problems.Add($"{t}: {type.Name} is not a struct");
            return;
        }
        int unsafeSize = (int)UnsafeSizeOf.MakeGenericMethod(type).Invoke(null, null)!;
        int marshalSize = Marshal.SizeOf(type);
        if (unsafeSize != t.Size || marshalSize != t.Size)
        {
            problems.Add($"{t}: size {t.Size}, but {type.Name} has Unsafe.SizeOf {unsafeSize}, Marshal.SizeOf {marshalSize}");
        }

        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (BtfMember m in t.Members)
        {
            string fieldName = CSharpStructEmitter.FieldName(m.Name);
            expected.Add(fieldName);
            FieldInfo? field = type.GetField(fieldName, BindingFlags.Public | BindingFlags.Instance);
            if (field == null)
            {
                problems.Add($"{t}.{m.Name}: no field {type.Name}.{fieldName}");
                continue;
            }
            long offset = Marshal.OffsetOf(type, fieldName).ToInt64();
            if (m.BitOffset % 8 != 0 || offset != m.BitOffset / 8)
            {
                problems.Add($"{t}.{m.Name}: bit offset {m.BitOffset}, but {type.Name}.{fieldName} is at byte {offset}");
            }
            Assert.True(btf.TryGetSize(m.TypeId, out ulong btfSize), $"{t}.{m.Name} has no size");
            int size = FieldSize(field);
            if ((ulong)size != btfSize)
            {
                problems.Add($"{t}.{m.Name}: {btfSize} bytes, but {type.Name}.{fieldName} has {size}");
            }
        }
        foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
        {
            if (!expected.Contains(field.Name))
            {
                problems.Add($"{t}: {type.Name}.{field.Name} has no BTF member");
            }
        }
    }

    private static void CheckEnum(BtfType t, Type type, List<string> problems)
    {
        if (!type.IsEnum)
        {
            problems.Add($"{t}: {type.Name} is not an enum");
            return;
        }
        Type underlying = Enum.GetUnderlyingType(type);
        int size = Marshal.SizeOf(underlying);
        bool signed = underlying == typeof(sbyte) || underlying == typeof(short) || underlying == typeof(int) || underlying == typeof(long);
        if (size != t.Size || signed != t.IsSigned)
        {
            problems.Add($"{t}: {t.Size} bytes, {(t.IsSigned ? "signed" : "unsigned")}, but {type.Name} is {underlying.Name}");
        }

        IReadOnlyList<string> names = CSharpStructEmitter.EnumMemberNames(t);
        for (int i = 0; i < names.Count; i++)
        {
            FieldInfo? field = type.GetField(names[i], BindingFlags.Public | BindingFlags.Static);
            if (field == null)
            {
                problems.Add($"{t}.{t.EnumValues[i].Name}: no member {type.Name}.{names[i]}");
                continue;
            }
            long value = ToInt64(field.GetRawConstantValue()!);
            if (value != t.EnumValues[i].Value)
            {
                problems.Add($"{t}.{t.EnumValues[i].Name}: value {t.EnumValues[i].Value}, but {type.Name}.{names[i]} is {value}");
            }
        }
        foreach (string csName in Enum.GetNames(type))
        {
            if (!names.Contains(csName))
            {
                problems.Add($"{t}: {type.Name}.{csName} has no BTF member");
            }
        }
    }

    /// <summary>The size of a field: element size times length for fixed buffers.</summary>
    private static int FieldSize(FieldInfo field)
    {
        if (field.GetCustomAttribute<FixedBufferAttribute>() is { } fixedBuffer)
        {
            return Marshal.SizeOf(fixedBuffer.ElementType) * fixedBuffer.Length;
        }
        Type type = field.FieldType.IsEnum ? Enum.GetUnderlyingType(field.FieldType) : field.FieldType;
        return (int)UnsafeSizeOf.MakeGenericMethod(type).Invoke(null, null)!;
    }

    /// <summary>An enum constant as BTF stores it: sign-extended if signed, zero-extended otherwise.</summary>
    private static long ToInt64(object value) => value switch
    {
        sbyte v => v,
        short v => v,
        int v => v,
        long v => v,
        byte v => v,
        ushort v => v,
        uint v => v,
        ulong v => unchecked((long)v),
        _ => throw new ArgumentException($"unexpected enum constant {value.GetType()}"),
    };
}
