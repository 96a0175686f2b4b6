namespace Sysstream.Btf;

/// <summary>A BTF type that has no C# counterpart in the generated code (bitfield, union, pointer, ...).</summary>
public sealed class BtfMappingException : Exception
{
    /// <summary>Creates the exception with a one-line message naming the C type and member.</summary>
    public BtfMappingException(string message) : base(message)
    {
    }
}
