using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

// Address helpers beside the generated layout. The kernel side stores IPv4 addresses as
// IPv4-mapped IPv6 (::ffff:a.b.c.d), ports in host order.
public unsafe partial struct Sock
{
    public const ushort AF_UNSPEC = 0;
    public const ushort AF_UNIX = 1;
    public const ushort AF_INET = 2;
    public const ushort AF_INET6 = 10;

    public const ushort IPPROTO_TCP = 6;
    public const ushort IPPROTO_UDP = 17;

    /// <summary>The 16 bytes of the local address.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> LaddrBytes => MemoryMarshal.CreateReadOnlySpan(in Laddr[0], 16);

    /// <summary>The 16 bytes of the remote address.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> RaddrBytes => MemoryMarshal.CreateReadOnlySpan(in Raddr[0], 16);

    public readonly bool IsInet => Family is AF_INET or AF_INET6;

    public readonly bool IsUnix => Family == AF_UNIX;

    public readonly bool IsTcp => IsInet && Protocol == IPPROTO_TCP;

    /// <summary>The local endpoint is unknown: no address and no port.</summary>
    public readonly bool LocalUnknown => Lport == 0 && IsUnspecified(LaddrBytes);

    /// <summary>The remote endpoint is unknown: no address and no port.</summary>
    public readonly bool RemoteUnknown => Rport == 0 && IsUnspecified(RaddrBytes);

    /// <summary>True for ::ffff:a.b.c.d.</summary>
    public static bool IsV4Mapped(ReadOnlySpan<byte> addr) =>
        addr.Length == 16
        && MemoryMarshal.Read<ulong>(addr) == 0
        && addr[8] == 0 && addr[9] == 0 && addr[10] == 0xff && addr[11] == 0xff;

    /// <summary>The any-address in either form: :: or ::ffff:0.0.0.0.</summary>
    public static bool IsUnspecified(ReadOnlySpan<byte> addr) =>
        addr.Length == 16
        && MemoryMarshal.Read<ulong>(addr) == 0
        && MemoryMarshal.Read<uint>(addr[12..]) == 0
        && (MemoryMarshal.Read<uint>(addr[8..]) == 0 || IsV4Mapped(addr));
}
