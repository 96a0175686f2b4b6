using System.Net;
using Sysstream.Events;

namespace Sysstream.Aggregation;

/// <summary>
/// The traffic of one unconnected UDP socket with one peer since sysstream attached (a row of
/// <c>ss_top_peers</c>, keyed by socket cookie and peer). The socket's own row in
/// <c>ss_top_conns</c> (same cookie) holds its local end and owner. Immutable.
/// </summary>
public sealed record PeerTotals
{
    /// <summary>The local socket's cookie.</summary>
    public required ulong Cookie { get; init; }
    /// <summary>The peer's address, normalised (IPv4 on an IPv6 socket as IPv4).</summary>
    public required IPAddress Address { get; init; }
    public required ushort Port { get; init; }
    public ulong TxBytes { get; init; }
    public ulong RxBytes { get; init; }
    /// <summary>Datagrams sent to and received from the peer (one per send or receive call).</summary>
    public ulong TxDatagrams { get; init; }
    public ulong RxDatagrams { get; init; }
    /// <summary>CLOCK_MONOTONIC ns of the first and the last datagram either way.</summary>
    public ulong FirstNs { get; init; }
    public ulong LastNs { get; init; }
    /// <summary>This socket sent to the peer before it received anything from it: it is the client.</summary>
    public bool SentFirst { get; init; }
    /// <summary>The kernel's key of the row (to forget it).</summary>
    public TopPeerKey Key { get; init; }

    public static unsafe PeerTotals From(in TopPeerKey key, in TopPeer value)
    {
        TopPeerKey copy = key;
        var addr = new ReadOnlySpan<byte>(copy.Addr, 16);
        return new PeerTotals
        {
            Cookie = key.Cookie,
            Address = Endpoints.Address(addr),
            Port = key.Port,
            TxBytes = value.TxBytes,
            RxBytes = value.RxBytes,
            TxDatagrams = value.TxDgrams,
            RxDatagrams = value.RxDgrams,
            FirstNs = value.FirstNs,
            LastNs = value.LastNs,
            SentFirst = ((TopPeerFlags)value.Flags & TopPeerFlags.SentFirst) != 0,
            Key = key,
        };
    }
}
