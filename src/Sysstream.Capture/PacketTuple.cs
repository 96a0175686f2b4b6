using System.Buffers.Binary;

namespace Sysstream.Capture;

/// <summary>
/// Protocol, addresses and ports of an IP packet, read from its header: IPv4 addresses as
/// ::ffff:a.b.c.d so both families compare alike. Ports only for TCP and UDP in the first
/// fragment; IPv6 extension headers are not walked (no ports then).
/// </summary>
public readonly record struct PacketTuple(byte Protocol, UInt128 Src, ushort SrcPort, UInt128 Dst, ushort DstPort)
{
    public const byte Tcp = 6, Udp = 17;

    public bool HasPorts => Protocol is Tcp or Udp && (SrcPort != 0 || DstPort != 0);

    /// <summary>Reads the tuple of a packet starting with its IP header; false if it is not IPv4/IPv6 or is cut short.</summary>
    public static bool TryParse(ReadOnlySpan<byte> ip, out PacketTuple tuple)
    {
        tuple = default;
        if (ip.Length < 20)
            return false;
        int version = ip[0] >> 4;
        byte proto;
        UInt128 src, dst;
        int l4;
        if (version == 4)
        {
            proto = ip[9];
            src = Mapped(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
            dst = Mapped(BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
            bool firstFragment = ((ip[6] & 0x1f) | ip[7]) == 0;
            l4 = firstFragment ? (ip[0] & 0xf) * 4 : -1;
        }
        else if (version == 6)
        {
            if (ip.Length < 40)
                return false;
            proto = ip[6];
            src = BinaryPrimitives.ReadUInt128BigEndian(ip[8..]);
            dst = BinaryPrimitives.ReadUInt128BigEndian(ip[24..]);
            l4 = 40;
        }
        else
        {
            return false;
        }
        ushort sport = 0, dport = 0;
        if (proto is Tcp or Udp && l4 >= 20 && ip.Length >= l4 + 4)
        {
            sport = BinaryPrimitives.ReadUInt16BigEndian(ip[l4..]);
            dport = BinaryPrimitives.ReadUInt16BigEndian(ip[(l4 + 2)..]);
        }
        tuple = new PacketTuple(proto, src, sport, dst, dport);
        return true;
    }

    private static UInt128 Mapped(uint v4) => ((UInt128)0xffff << 32) | v4;
}
