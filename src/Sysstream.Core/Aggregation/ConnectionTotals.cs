using System.Net;
using Sysstream.Events;

namespace Sysstream.Aggregation;

/// <summary>
/// One socket's totals since sysstream attached (a row of <c>ss_top_conns</c>, keyed by the
/// socket cookie). Addresses are normalised: IPv4 on an IPv6 socket is shown as IPv4.
/// </summary>
public sealed record ConnectionTotals
{
    public required ulong Cookie { get; init; }
    /// <summary>AF_INET, AF_INET6 or AF_UNIX.</summary>
    public ushort Family { get; init; }
    /// <summary>IPPROTO_TCP, IPPROTO_UDP ... (0 for unix).</summary>
    public ushort Protocol { get; init; }
    /// <summary>SOCK_STREAM, SOCK_DGRAM ...</summary>
    public ushort SocketType { get; init; }
    public IPAddress? LocalAddress { get; init; }
    public ushort LocalPort { get; init; }
    public IPAddress? RemoteAddress { get; init; }
    public ushort RemotePort { get; init; }
    /// <summary>TCP_* state (for UDP the kernel uses 1 connected, 7 not).</summary>
    public byte State { get; init; }
    public TopConnFlags Flags { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    public ulong TxCalls { get; init; }
    public ulong RxCalls { get; init; }
    /// <summary>CLOCK_MONOTONIC ns: first seen, last byte, reached CLOSE (0: open).</summary>
    public ulong FirstNs { get; init; }
    public ulong LastNs { get; init; }
    public ulong CloseNs { get; init; }
    /// <summary>The first process seen using it in a system call; 0 when none yet (accepted, no byte yet).</summary>
    public int OwnerPid { get; init; }
    public ulong OwnerStartNs { get; init; }
    public uint OwnerUid { get; init; }
    public string OwnerComm { get; init; } = "";
    public uint SrttUs { get; init; }
    public uint Retransmits { get; init; }
    /// <summary>The socket's inode (0 when it had no file yet when last seen).</summary>
    public ulong Inode { get; init; }

    public bool Closed => CloseNs != 0 || (Flags & TopConnFlags.Closed) != 0;
    public bool IsTcp => Protocol == Sock.IPPROTO_TCP && Family is Sock.AF_INET or Sock.AF_INET6;
    public bool IsUdp => Protocol == Sock.IPPROTO_UDP && Family is Sock.AF_INET or Sock.AF_INET6;
    public ProcessKey Owner => new(OwnerPid, OwnerStartNs);

    private static unsafe string CommOf(TopConn copy) => CStrings.FromC(new ReadOnlySpan<byte>(copy.Comm, 16));

    public static unsafe ConnectionTotals From(in TopConn c)
    {
        bool inet = c.Sk.Family is Sock.AF_INET or Sock.AF_INET6;
        return new ConnectionTotals
        {
            Cookie = c.Sk.Cookie,
            Family = c.Sk.Family,
            Protocol = c.Sk.Protocol,
            SocketType = c.Sk.Type,
            LocalAddress = inet ? Endpoints.Address(c.Sk.LaddrBytes) : null,
            LocalPort = c.Sk.Lport,
            RemoteAddress = inet ? Endpoints.Address(c.Sk.RaddrBytes) : null,
            RemotePort = c.Sk.Rport,
            State = c.Sk.State,
            Flags = (TopConnFlags)c.Flags,
            TxBytes = c.TxBytes,
            RxBytes = c.RxBytes,
            TxCalls = c.TxCalls,
            RxCalls = c.RxCalls,
            FirstNs = c.FirstNs,
            LastNs = c.LastNs,
            CloseNs = c.CloseNs,
            OwnerPid = (int)c.OwnerTgid,
            OwnerStartNs = c.OwnerStartNs,
            OwnerUid = c.OwnerUid,
            OwnerComm = CommOf(c),
            SrttUs = c.SrttUs,
            Retransmits = c.Retransmits,
            Inode = c.Ino,
        };
    }
}
