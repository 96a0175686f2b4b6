using System.Net;

namespace Sysstream.Sockets;

/// <summary>One socket as /proc/net lists it (one line of tcp, tcp6, udp, udp6 or unix).</summary>
public sealed record NetSocket
{
    /// <summary>"tcp", "udp" or "unix".</summary>
    public required string Proto { get; init; }
    /// <summary>AF_INET, AF_INET6 or AF_UNIX.</summary>
    public ushort Family { get; init; }
    public IPAddress? LocalAddress { get; init; }
    public ushort LocalPort { get; init; }
    public IPAddress? RemoteAddress { get; init; }
    public ushort RemotePort { get; init; }
    /// <summary>TCP_* for inet sockets (UDP: 1 connected, 7 not); SS_* (1 unconnected .. 3 connected) for unix.</summary>
    public byte State { get; init; }
    /// <summary>Bytes waiting to be sent (TCP: unacknowledged) and to be read (TCP listener: pending accepts).</summary>
    public ulong SendQueue { get; init; }
    public ulong RecvQueue { get; init; }
    /// <summary>The user that created the socket (inet only; unix sockets do not list it).</summary>
    public uint? Uid { get; init; }
    public ulong Inode { get; init; }
    /// <summary>unix: the bound path ("@name" for abstract names), "" when unnamed.</summary>
    public string Path { get; init; } = "";
    /// <summary>unix: SOCK_STREAM (1), SOCK_DGRAM (2), SOCK_SEQPACKET (5).</summary>
    public ushort SocketType { get; init; }
    /// <summary>unix: accepts connections (__SO_ACCEPTCON).</summary>
    public bool UnixListening { get; init; }
    /// <summary>The network namespace (inode of /proc/PID/ns/net) it was read in; 0 when unknown.</summary>
    public ulong Netns { get; init; }

    public bool IsTcp => Proto == "tcp";
    public bool IsUdp => Proto == "udp";
    public bool IsUnix => Proto == "unix";

    /// <summary>Listening: TCP LISTEN, UDP bound and unconnected, unix accepting.</summary>
    public bool Listening => IsTcp ? State == 10 : IsUdp ? State == 7 && LocalPort != 0 : UnixListening;
}
