using System.Globalization;
using System.Net;
using Sysstream.Events;

namespace Sysstream.Sockets;

/// <summary>
/// Parsers of /proc/net/{tcp,tcp6,udp,udp6,unix}. Addresses there are the kernel's 32-bit words
/// printed in host byte order (little-endian here), ports in hex.
/// </summary>
public static class ProcNet
{
    /// <summary>Parses tcp, tcp6, udp or udp6 text; malformed lines are skipped.</summary>
    public static List<NetSocket> ParseInet(string text, string proto, ulong netns = 0)
    {
        var result = new List<NetSocket>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("sl", StringComparison.Ordinal))
                continue;
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
            if (f.Length < 10)
                continue;
            if (!TryEndpoint(f[1], out IPAddress? la, out ushort lp) || !TryEndpoint(f[2], out IPAddress? ra, out ushort rp))
                continue;
            if (!byte.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte st))
                continue;
            string[] q = f[4].Split(':');
            if (q.Length != 2
                || !ulong.TryParse(q[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong tx)
                || !ulong.TryParse(q[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong rx))
                continue;
            if (!uint.TryParse(f[7], NumberStyles.Integer, CultureInfo.InvariantCulture, out uint uid)
                || !ulong.TryParse(f[9], NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong inode))
                continue;
            result.Add(new NetSocket
            {
                Proto = proto,
                Family = f[1].Length > 13 ? Sock.AF_INET6 : Sock.AF_INET,
                LocalAddress = la,
                LocalPort = lp,
                RemoteAddress = ra,
                RemotePort = rp,
                State = st,
                SendQueue = tx,
                RecvQueue = rx,
                Uid = uid,
                Inode = inode,
                Netns = netns,
            });
        }
        return result;
    }

    /// <summary>"0100007F:1F90" -> 127.0.0.1:8080; 32 hex digits for IPv6 (four words). IPv4-mapped
    /// IPv6 addresses are given as IPv4.</summary>
    public static bool TryEndpoint(string text, out IPAddress? address, out ushort port)
    {
        address = null;
        port = 0;
        int colon = text.IndexOf(':');
        if (colon < 0 || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port))
            return false;
        ReadOnlySpan<char> hex = text.AsSpan(0, colon);
        if (hex.Length != 8 && hex.Length != 32)
            return false;
        Span<byte> bytes = stackalloc byte[hex.Length / 2];
        for (int word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint w))
                return false;
            // the word was printed as a host-order (little-endian) integer
            bytes[word * 4] = (byte)w;
            bytes[word * 4 + 1] = (byte)(w >> 8);
            bytes[word * 4 + 2] = (byte)(w >> 16);
            bytes[word * 4 + 3] = (byte)(w >> 24);
        }
        var ip = new IPAddress(bytes);
        address = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
        return true;
    }

    /// <summary>Parses /proc/net/unix: Num RefCount Protocol Flags Type St Inode [Path].</summary>
    public static List<NetSocket> ParseUnix(string text, ulong netns = 0)
    {
        const uint AcceptCon = 0x10000;
        var result = new List<NetSocket>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("Num", StringComparison.Ordinal))
                continue;
            string[] f = line.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 7)
                continue;
            if (!uint.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint flags)
                || !ushort.TryParse(f[4], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ushort type)
                || !byte.TryParse(f[5], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte st)
                || !ulong.TryParse(f[6], NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong inode))
                continue;
            result.Add(new NetSocket
            {
                Proto = "unix",
                Family = Sock.AF_UNIX,
                State = st,
                SocketType = type,
                UnixListening = (flags & AcceptCon) != 0,
                Inode = inode,
                Path = f.Length > 7 ? f[7].Trim() : "",
                Netns = netns,
            });
        }
        return result;
    }

    /// <summary>Unix socket states (SS_*), as ss prints them.</summary>
    public static string UnixState(NetSocket s) => s.UnixListening ? "LISTEN" : s.State switch
    {
        1 => "UNCONN",
        2 => "CONNECTING",
        3 => "ESTABLISHED",
        4 => "DISCONNECTING",
        _ => s.State.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>"stream", "dgram", "seqpacket".</summary>
    public static string UnixType(ushort type) => type switch
    {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => type.ToString(CultureInfo.InvariantCulture),
    };
}
