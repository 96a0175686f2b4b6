namespace Sysstream.Btf;

/// <summary>Malformed ELF or BTF input; <see cref="Offset"/> is the byte offset in the input where it was found.</summary>
public sealed class BtfFormatException : Exception
{
    /// <summary>Byte offset in the input (the whole ELF file for ELF input) of the bad data.</summary>
    public long Offset { get; }

    /// <summary>Creates the exception; the message gets " at offset 0x..." appended.</summary>
    public BtfFormatException(string message, long offset)
        : base($"{message} at offset 0x{offset:x}")
    {
        Offset = offset;
    }
}
