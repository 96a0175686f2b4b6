using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text;
using Sysstream.Events;

namespace Sysstream.Output;

/// <summary>
/// Pieces shared by the text and JSON writers. Everything writes UTF-8 into a caller's span and
/// returns the bytes written; nothing allocates.
/// </summary>
public static class EventFormatting
{
    /// <summary>Longest address text: a full IPv6 address.</summary>
    public const int MaxAddressLength = 39;

    /// <summary>Longest endpoint text: "[" IPv6 "]:" port.</summary>
    public const int MaxEndpointLength = MaxAddressLength + 8;

    /// <summary>Length of an RFC 3339 timestamp with nanoseconds: 2026-11-28T01:02:03.123456789Z.</summary>
    public const int Rfc3339Length = 30;

    // ------------------------------------------------------------------ addresses

    /// <summary>
    /// Writes a 16-byte address: dotted IPv4 for ::ffff:a.b.c.d, otherwise IPv6 in the RFC 5952
    /// form (lower-case hex, the longest run of two or more zero groups as "::").
    /// </summary>
    public static int WriteAddress(ReadOnlySpan<byte> addr16, Span<byte> dest)
    {
        if (Sock.IsV4Mapped(addr16))
            return WriteIPv4(addr16[12..16], dest);
        return WriteIPv6(addr16, dest);
    }

    /// <summary>Writes four bytes as a.b.c.d.</summary>
    public static int WriteIPv4(ReadOnlySpan<byte> addr4, Span<byte> dest)
    {
        int w = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0)
                dest[w++] = (byte)'.';
            Utf8Formatter.TryFormat(addr4[i], dest[w..], out int n);
            w += n;
        }
        return w;
    }

    /// <summary>Writes 16 bytes as an IPv6 address in the RFC 5952 form.</summary>
    public static int WriteIPv6(ReadOnlySpan<byte> addr16, Span<byte> dest)
    {
        Span<ushort> groups = stackalloc ushort[8];
        for (int i = 0; i < 8; i++)
            groups[i] = BinaryPrimitives.ReadUInt16BigEndian(addr16[(i * 2)..]);

        // The longest run of zero groups (the first one on a tie), if at least two long.
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0)
                j++;
            if (j - i > bestLen)
            {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        if (bestLen < 2)
            bestStart = -1;

        int w = 0;
        for (int i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                dest[w++] = (byte)':';
                dest[w++] = (byte)':';
                i += bestLen - 1;
                continue;
            }
            if (i > 0 && i != bestStart + bestLen)
                dest[w++] = (byte)':';
            Utf8Formatter.TryFormat(groups[i], dest[w..], out int n, new System.Buffers.StandardFormat('x'));
            w += n;
        }
        return w;
    }

    /// <summary>Writes "a.b.c.d:port", or "[v6]:port" (IPv6 in brackets).</summary>
    public static int WriteEndpoint(ReadOnlySpan<byte> addr16, ushort port, Span<byte> dest)
    {
        int w = 0;
        bool v6 = !Sock.IsV4Mapped(addr16);
        if (v6)
            dest[w++] = (byte)'[';
        w += WriteAddress(addr16, dest[w..]);
        if (v6)
            dest[w++] = (byte)']';
        dest[w++] = (byte)':';
        Utf8Formatter.TryFormat(port, dest[w..], out int n);
        return w + n;
    }

    /// <summary>
    /// The event's addresses are unix paths: a unix socket, or a call that named a unix
    /// address for a descriptor that is not a socket.
    /// </summary>
    public static bool IsUnix(in SyscallEvent ev, bool hasUnixPaths) =>
        ev.Sk.Family == Sock.AF_UNIX || (hasUnixPaths && ev.Sk.Family == Sock.AF_UNSPEC);

    /// <summary>
    /// Writes the local (or remote) end of the event for the table: "127.0.0.1:80", "[::1]:53",
    /// "/run/x.sock", "@abstract". Returns 0 when that end is not known. <paramref name="dest"/>
    /// needs <see cref="UnixPaths.PathLength"/> bytes.
    /// </summary>
    public static int WriteEnd(in SyscallEvent ev, in UnixPaths paths, bool hasUnixPaths, bool remote, Span<byte> dest)
    {
        if (IsUnix(ev, hasUnixPaths))
        {
            if (!hasUnixPaths)
                return 0;
            return remote ? paths.WriteRemote(dest) : paths.WriteLocal(dest);
        }
        if (remote)
            return ev.Sk.RemoteUnknown ? 0 : WriteEndpoint(ev.Sk.RaddrBytes, ev.Sk.Rport, dest);
        return ev.Sk.LocalUnknown ? 0 : WriteEndpoint(ev.Sk.LaddrBytes, ev.Sk.Lport, dest);
    }

    // ------------------------------------------------------------------ time

    /// <summary>
    /// Writes nanoseconds since the Unix epoch as RFC 3339 UTC with nine fractional digits,
    /// e.g. 2026-11-28T01:02:03.123456789Z (<see cref="Rfc3339Length"/> bytes).
    /// </summary>
    public static int WriteRfc3339(long unixNs, Span<byte> dest)
    {
        const long NsPerSecond = 1_000_000_000L;
        const long SecondsPerDay = 86_400L;

        long secs = Math.DivRem(unixNs, NsPerSecond, out long frac);
        if (frac < 0)
        {
            frac += NsPerSecond;
            secs--;
        }
        long days = Math.DivRem(secs, SecondsPerDay, out long sod);
        if (sod < 0)
        {
            sod += SecondsPerDay;
            days--;
        }

        // Civil date from days since 1970-01-01 (proleptic Gregorian calendar), after
        // H. Hinnant's "chrono-compatible low-level date algorithms".
        long z = days + 719_468;
        long era = (z >= 0 ? z : z - 146_096) / 146_097;
        long doe = z - era * 146_097;
        long yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        long day = doy - (153 * mp + 2) / 5 + 1;
        long month = mp < 10 ? mp + 3 : mp - 9;
        long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
        year = Math.Clamp(year, 0, 9999);

        Digits(dest[0..], year, 4);
        dest[4] = (byte)'-';
        Digits(dest[5..], month, 2);
        dest[7] = (byte)'-';
        Digits(dest[8..], day, 2);
        dest[10] = (byte)'T';
        Digits(dest[11..], sod / 3600, 2);
        dest[13] = (byte)':';
        Digits(dest[14..], sod / 60 % 60, 2);
        dest[16] = (byte)':';
        Digits(dest[17..], sod % 60, 2);
        dest[19] = (byte)'.';
        Digits(dest[20..], frac, 9);
        dest[29] = (byte)'Z';
        return Rfc3339Length;
    }

    /// <summary>Writes nanoseconds as seconds with six decimals: 1.234567.</summary>
    public static int WriteSeconds(ulong ns, Span<byte> dest)
    {
        Utf8Formatter.TryFormat(ns / 1_000_000_000UL, dest, out int w);
        dest[w++] = (byte)'.';
        Digits(dest[w..], (long)(ns % 1_000_000_000UL / 1_000UL), 6);
        return w + 6;
    }

    /// <summary>Writes a duration for people: 850ns, 12us, 3.2ms, 1.5s.</summary>
    public static int WriteDuration(ulong ns, Span<byte> dest)
    {
        int w;
        if (ns < 1_000UL)
        {
            Utf8Formatter.TryFormat(ns, dest, out w);
            return w + Append(dest[w..], "ns"u8);
        }
        if (ns < 1_000_000UL)
        {
            Utf8Formatter.TryFormat(ns / 1_000UL, dest, out w);
            return w + Append(dest[w..], "us"u8);
        }
        ulong tenths;
        ReadOnlySpan<byte> unit;
        if (ns < 1_000_000_000UL)
        {
            tenths = ns / 100_000UL;
            unit = "ms"u8;
        }
        else
        {
            tenths = ns / 100_000_000UL;
            unit = "s"u8;
        }
        Utf8Formatter.TryFormat(tenths / 10, dest, out w);
        dest[w++] = (byte)'.';
        dest[w++] = (byte)('0' + (int)(tenths % 10));
        return w + Append(dest[w..], unit);
    }

    // ------------------------------------------------------------------ names

    /// <summary>The kernel's name of a TCP state (include/net/tcp_states.h); empty when unnamed.</summary>
    public static ReadOnlySpan<byte> TcpState(byte state) => state switch
    {
        1 => "ESTABLISHED"u8,
        2 => "SYN_SENT"u8,
        3 => "SYN_RECV"u8,
        4 => "FIN_WAIT1"u8,
        5 => "FIN_WAIT2"u8,
        6 => "TIME_WAIT"u8,
        7 => "CLOSE"u8,
        8 => "CLOSE_WAIT"u8,
        9 => "LAST_ACK"u8,
        10 => "LISTEN"u8,
        11 => "CLOSING"u8,
        12 => "NEW_SYN_RECV"u8,
        13 => "BOUND_INACTIVE"u8,
        _ => default,
    };

    /// <summary>The TCP state of the event's socket, read from the kernel socket; empty otherwise.</summary>
    public static ReadOnlySpan<byte> TcpState(in SyscallEvent ev) =>
        ev.HasFlag(EventFlags.Sock) && ev.Sk.IsTcp ? TcpState(ev.Sk.State) : default;

    // ------------------------------------------------------------------ text

    /// <summary>
    /// Copies text from the kernel (comm, paths) so that the output is valid UTF-8: malformed
    /// sequences (e.g. a name cut inside a character) become U+FFFD, or '?' when
    /// <paramref name="forTerminal"/>, which also replaces control characters. <paramref name="dest"/>
    /// needs three times the source length.
    /// </summary>
    public static int CopySanitized(ReadOnlySpan<byte> src, Span<byte> dest, bool forTerminal)
    {
        int w = 0;
        while (!src.IsEmpty)
        {
            byte b = src[0];
            if (b < 0x80)
            {
                dest[w++] = forTerminal && (b < 0x20 || b == 0x7f) ? (byte)'?' : b;
                src = src[1..];
                continue;
            }
            var status = Rune.DecodeFromUtf8(src, out Rune rune, out int consumed);
            if (consumed <= 0)
                consumed = 1;
            if (status == System.Buffers.OperationStatus.Done && !(forTerminal && Rune.IsControl(rune)))
            {
                src[..consumed].CopyTo(dest[w..]);
                w += consumed;
            }
            else if (forTerminal)
            {
                dest[w++] = (byte)'?';
            }
            else
            {
                w += Append(dest[w..], "\uFFFD"u8);
            }
            src = src[consumed..];
        }
        return w;
    }

    /// <summary>Copies <paramref name="text"/> and returns its length.</summary>
    public static int Append(Span<byte> dest, ReadOnlySpan<byte> text)
    {
        text.CopyTo(dest);
        return text.Length;
    }

    /// <summary>Writes <paramref name="value"/> (non-negative) as exactly <paramref name="count"/> digits.</summary>
    private static void Digits(Span<byte> dest, long value, int count)
    {
        for (int i = count - 1; i >= 0; i--)
        {
            dest[i] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }
    }
}
