namespace Sysstream.Capture.Pcapng;

/// <summary>Block types of the pcapng format (draft-ietf-opsawg-pcapng, section 11.1).</summary>
public static class BlockType
{
    public const uint SectionHeader = 0x0A0D0D0A;
    public const uint InterfaceDescription = 0x00000001;
    public const uint Packet = 0x00000002; // obsolete
    public const uint SimplePacket = 0x00000003;
    public const uint NameResolution = 0x00000004;
    public const uint InterfaceStatistics = 0x00000005;
    public const uint EnhancedPacket = 0x00000006;
    /// <summary>A Custom Block that a rewriting tool may copy into a new file.</summary>
    public const uint CustomCopyable = 0x00000BAD;
    /// <summary>A Custom Block that a rewriting tool must not copy (its meaning may depend on what it drops).</summary>
    public const uint CustomNotCopyable = 0x40000BAD;

    public static bool IsCustom(uint type) => type is CustomCopyable or CustomNotCopyable;
}

/// <summary>Option codes (draft-ietf-opsawg-pcapng, sections 3.5 and 4).</summary>
public static class OptionCode
{
    public const ushort EndOfOptions = 0;
    public const ushort Comment = 1;
    /// <summary>Custom options: a Private Enterprise Number, then the value.</summary>
    public const ushort CustomStringCopyable = 2988;
    public const ushort CustomBinaryCopyable = 2989;
    public const ushort CustomStringNotCopyable = 19372;
    public const ushort CustomBinaryNotCopyable = 19373;

    // Section Header Block
    public const ushort ShbHardware = 2;
    public const ushort ShbOs = 3;
    public const ushort ShbUserApplication = 4;

    // Interface Description Block
    public const ushort IfName = 2;
    public const ushort IfDescription = 3;
    public const ushort IfTsResol = 9;
    public const ushort IfOs = 12;

    // Enhanced Packet Block
    public const ushort EpbFlags = 2;
    public const ushort EpbDropCount = 4;
    public const ushort EpbPacketId = 5;

    public static bool IsCustom(ushort code) => code is CustomStringCopyable or CustomBinaryCopyable
        or CustomStringNotCopyable or CustomBinaryNotCopyable;
}

/// <summary>epb_flags: bits 0-1 are the direction.</summary>
public static class EpbFlags
{
    public const uint DirectionUnknown = 0;
    public const uint Inbound = 1;
    public const uint Outbound = 2;
    public const uint DirectionMask = 3;
}

/// <summary>Link-layer header types (the tcpdump.org LINKTYPE_ registry).</summary>
public static class LinkType
{
    public const ushort Ethernet = 1;
    /// <summary>LINKTYPE_RAW: the packet starts with its IPv4 or IPv6 header (version nibble tells which).</summary>
    public const ushort Raw = 101;
}
