using System.Net;
using System.Net.Sockets;
using Sysstream.Events;

namespace Sysstream.Aggregation;

/// <summary>Addresses and endpoints as views print them: IPv4 plainly (also when v4-mapped), IPv6 in brackets.</summary>
public static class Endpoints
{
    /// <summary>A 16-byte kernel address (IPv4 as ::ffff:a.b.c.d) as an IPAddress, IPv4 when mapped.</summary>
    public static IPAddress Address(ReadOnlySpan<byte> addr16)
    {
        if (Sock.IsV4Mapped(addr16))
            return new IPAddress(addr16[12..16]);
        return new IPAddress(addr16);
    }

    /// <summary>Normalises ::ffff:a.b.c.d to a.b.c.d.</summary>
    public static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    public static bool IsUnspecified(IPAddress? a) =>
        a is null || a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);

    /// <summary>"127.0.0.1:80", "[::1]:80", "*:80" for the any-address, "*" for nothing known.</summary>
    public static string Format(IPAddress? address, ushort port)
    {
        string host = IsUnspecified(address) ? "*" : address!.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + address + "]" : address.ToString();
        if (port == 0)
            return host == "*" ? "*" : host + ":*";
        return host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The address alone, "*" when unspecified.</summary>
    public static string Host(IPAddress? address) => IsUnspecified(address) ? "*" : address!.ToString();

    /// <summary>TCP state names as the kernel's tcp_states.h (and ss) spell them.</summary>
    public static string TcpState(byte state) => state switch
    {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => state.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>"tcp", "udp", "tcp6", "udp6", "unix" ...</summary>
    public static string Proto(ushort family, ushort protocol) => family switch
    {
        Sock.AF_UNIX => "unix",
        Sock.AF_INET or Sock.AF_INET6 => protocol switch
        {
            Sock.IPPROTO_TCP => "tcp",
            Sock.IPPROTO_UDP => "udp",
            136 => "udplite",
            262 => "mptcp",
            _ => "ip" + protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        _ => "af" + family.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
