using System.Buffers.Text;

namespace Sysstream.Events;

/// <summary>
/// Names for the numbers in an event, as UTF-8 literals (static data: nothing allocates).
/// Lower-case short names are for JSON ("inet", "tcp", "stream"); the C constant names
/// (AF_INET, SOCK_STREAM, IPPROTO_TCP) are for the human NOTES column.
/// </summary>
public static class Names
{
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_RDM = 4;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_DCCP = 6;
    public const int SOCK_PACKET = 10;
    public const int SOCK_TYPE_MASK = 0xf;
    public const int SOCK_CLOEXEC = 0x80000; // 02000000
    public const int SOCK_NONBLOCK = 0x800;  // 04000

    /// <summary>The C name of a traced call: "socket", "accept4", "recvfrom"; "none" otherwise.</summary>
    public static ReadOnlySpan<byte> FuncName(Func f) => f switch
    {
        Func.Socket => "socket"u8,
        Func.Socketpair => "socketpair"u8,
        Func.Bind => "bind"u8,
        Func.Listen => "listen"u8,
        Func.Connect => "connect"u8,
        Func.Accept => "accept"u8,
        Func.Accept4 => "accept4"u8,
        Func.Sendto => "sendto"u8,
        Func.Sendmsg => "sendmsg"u8,
        Func.Sendmmsg => "sendmmsg"u8,
        Func.Recvfrom => "recvfrom"u8,
        Func.Recvmsg => "recvmsg"u8,
        Func.Recvmmsg => "recvmmsg"u8,
        Func.Read => "read"u8,
        Func.Readv => "readv"u8,
        Func.Write => "write"u8,
        Func.Writev => "writev"u8,
        Func.Sendfile => "sendfile"u8,
        Func.Splice => "splice"u8,
        Func.Close => "close"u8,
        Func.Shutdown => "shutdown"u8,
        _ => "none"u8,
    };

    /// <summary>Short family name ("inet", "inet6", "unix", "netlink", ...); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> Family(ushort family) => family switch
    {
        Sock.AF_UNIX => "unix"u8,
        Sock.AF_INET => "inet"u8,
        Sock.AF_INET6 => "inet6"u8,
        15 => "key"u8,
        16 => "netlink"u8,
        17 => "packet"u8,
        29 => "can"u8,
        30 => "tipc"u8,
        31 => "bluetooth"u8,
        38 => "alg"u8,
        40 => "vsock"u8,
        42 => "qipcrtr"u8,
        43 => "smc"u8,
        44 => "xdp"u8,
        45 => "mctp"u8,
        _ => default,
    };

    /// <summary>The C constant of an address family ("AF_INET"); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> FamilyConstant(ushort family) => family switch
    {
        Sock.AF_UNSPEC => "AF_UNSPEC"u8,
        Sock.AF_UNIX => "AF_UNIX"u8,
        Sock.AF_INET => "AF_INET"u8,
        Sock.AF_INET6 => "AF_INET6"u8,
        15 => "AF_KEY"u8,
        16 => "AF_NETLINK"u8,
        17 => "AF_PACKET"u8,
        29 => "AF_CAN"u8,
        30 => "AF_TIPC"u8,
        31 => "AF_BLUETOOTH"u8,
        38 => "AF_ALG"u8,
        40 => "AF_VSOCK"u8,
        42 => "AF_QIPCRTR"u8,
        43 => "AF_SMC"u8,
        44 => "AF_XDP"u8,
        45 => "AF_MCTP"u8,
        _ => default,
    };

    /// <summary>Short socket type name ("stream", "dgram", ...); empty when unnamed.
    /// SOCK_NONBLOCK/SOCK_CLOEXEC bits are ignored.</summary>
    public static ReadOnlySpan<byte> SocketType(int type) => (type & SOCK_TYPE_MASK) switch
    {
        SOCK_STREAM => "stream"u8,
        SOCK_DGRAM => "dgram"u8,
        SOCK_RAW => "raw"u8,
        SOCK_RDM => "rdm"u8,
        SOCK_SEQPACKET => "seqpacket"u8,
        SOCK_DCCP => "dccp"u8,
        SOCK_PACKET => "packet"u8,
        _ => default,
    };

    /// <summary>The C constant of a socket type ("SOCK_STREAM"); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> SocketTypeConstant(int type) => (type & SOCK_TYPE_MASK) switch
    {
        SOCK_STREAM => "SOCK_STREAM"u8,
        SOCK_DGRAM => "SOCK_DGRAM"u8,
        SOCK_RAW => "SOCK_RAW"u8,
        SOCK_RDM => "SOCK_RDM"u8,
        SOCK_SEQPACKET => "SOCK_SEQPACKET"u8,
        SOCK_DCCP => "SOCK_DCCP"u8,
        SOCK_PACKET => "SOCK_PACKET"u8,
        _ => default,
    };

    /// <summary>Short name of an IP protocol number ("tcp", "udp", "icmp", "raw"); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> IpProtocol(int protocol) => protocol switch
    {
        1 => "icmp"u8,
        2 => "igmp"u8,
        6 => "tcp"u8,
        17 => "udp"u8,
        33 => "dccp"u8,
        58 => "icmpv6"u8,
        132 => "sctp"u8,
        136 => "udplite"u8,
        255 => "raw"u8,
        262 => "mptcp"u8,
        _ => default,
    };

    /// <summary>The C constant of an IP protocol ("IPPROTO_TCP"); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> IpProtocolConstant(int protocol) => protocol switch
    {
        1 => "IPPROTO_ICMP"u8,
        2 => "IPPROTO_IGMP"u8,
        6 => "IPPROTO_TCP"u8,
        17 => "IPPROTO_UDP"u8,
        33 => "IPPROTO_DCCP"u8,
        58 => "IPPROTO_ICMPV6"u8,
        132 => "IPPROTO_SCTP"u8,
        136 => "IPPROTO_UDPLITE"u8,
        255 => "IPPROTO_RAW"u8,
        262 => "IPPROTO_MPTCP"u8,
        _ => default,
    };

    /// <summary>
    /// The protocol of a socket as the JSON "proto" shows it: for IP sockets the protocol
    /// ("tcp", "udp"; protocol 0 as socket() takes it means the type's default), for unix
    /// sockets the type ("stream", "dgram", "seqpacket"). Empty when unknown.
    /// </summary>
    public static ReadOnlySpan<byte> Proto(ushort family, ushort type, ushort protocol)
    {
        if (family == Sock.AF_UNIX)
            return SocketType(type);
        if (family is not (Sock.AF_INET or Sock.AF_INET6))
            return default;
        if (protocol == 0)
        {
            return (type & SOCK_TYPE_MASK) switch
            {
                SOCK_STREAM => "tcp"u8,
                SOCK_DGRAM => "udp"u8,
                _ => default,
            };
        }
        return IpProtocol(protocol);
    }

    /// <summary>Writes <paramref name="name"/>, or the number when it is empty; returns the length.</summary>
    public static int NameOrNumber(ReadOnlySpan<byte> name, int number, Span<byte> dest)
    {
        if (!name.IsEmpty)
        {
            name.CopyTo(dest);
            return name.Length;
        }
        Utf8Formatter.TryFormat(number, dest, out int n);
        return n;
    }
}
