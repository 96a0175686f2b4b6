using System.Buffers.Text;
using System.Runtime.CompilerServices;
using Sysstream.Events;

namespace Sysstream.Output;

/// <summary>
/// Writes one JSON object per line (JSON Lines) for each event, straight into a reused UTF-8
/// buffer (fixed key fragments, numbers formatted in place, strings escaped as JSON requires),
/// which goes to the stream on <see cref="Flush"/> and whenever it holds more than 64 KiB.
/// Nothing allocates per event. The lines are plain JSON: any parser reads them.
/// </summary>
/// <remarks>
/// <para>Keys of a system call record, in this order (always present unless marked optional):</para>
/// <list type="table">
/// <item><term>ts</term><description>wall-clock time, RFC 3339 UTC with nanoseconds: "2026-11-28T01:02:03.123456789Z"</description></item>
/// <item><term>ts_ns</term><description>the same instant in ns since the Unix epoch</description></item>
/// <item><term>func</term><description>the call's C name: "socket", "connect", "accept4", "recvfrom", ...</description></item>
/// <item><term>phase</term><description>"enter" or "exit"</description></item>
/// <item><term>pid, tid, ppid</term><description>process (tgid), thread and parent process ids</description></item>
/// <item><term>comm, pcomm</term><description>thread name and parent's name (invalid UTF-8 shown as U+FFFD)</description></item>
/// <item><term>uid, gid</term><description>the caller's ids</description></item>
/// <item><term>cpu</term><description>CPU the event was recorded on</description></item>
/// <item><term>cgroup_id</term><description>cgroup v2 id of the caller</description></item>
/// <item><term>netns</term><description>network namespace inode number</description></item>
/// <item><term>fd</term><description>the socket descriptor (accept: the listener); null when none</description></item>
/// <item><term>family</term><description>"inet", "inet6", "unix" (or another family's short name); null when unknown</description></item>
/// <item><term>type</term><description>"stream", "dgram", "seqpacket", "raw", ...; null when unknown</description></item>
/// <item><term>proto</term><description>"tcp", "udp", "icmp", ...; for unix sockets the type ("stream", "dgram", "seqpacket"); null when unknown</description></item>
/// <item><term>laddr, lport</term><description>local address (IPv4 for IPv4-mapped addresses; a unix socket's path or "@abstract" name with lport null) and port; null when not known</description></item>
/// <item><term>raddr, rport</term><description>remote address and port, as laddr/lport</description></item>
/// <item><term>req_bytes</term><description>bytes the caller asked to move (data calls; not sendmmsg/recvmmsg); else null</description></item>
/// <item><term>bytes</term><description>bytes moved, at the exit of a successful data call (sendmmsg/recvmmsg: the sum over the messages); else null</description></item>
/// <item><term>ret</term><description>return value at exit (negative: -errno); null at entry</description></item>
/// <item><term>error</term><description>errno name ("EAGAIN", "ECONNREFUSED", "E&lt;n&gt;" without a name) when the call failed; else null</description></item>
/// <item><term>duration_ns</term><description>time from entry to exit; null at entry</description></item>
/// <item><term>cookie</term><description>the kernel's socket cookie, a stable connection id; null when not assigned</description></item>
/// <item><term>state</term><description>TCP state name ("ESTABLISHED", "SYN_SENT", ...) for TCP sockets; else null</description></item>
/// <item><term>seq</term><description>optional: TCP sequence number before the call (send: write_seq, receive: copied_seq)</description></item>
/// <item><term>arg</term><description>optional, omitted when 0: socket/socketpair type with flags, listen backlog, shutdown how, accept4 flags, socketpair's second fd, sendfile/splice's other fd, sendmmsg/recvmmsg vlen</description></item>
/// <item><term>peer_from_args</term><description>optional, true: raddr/rport came from the call's sockaddr argument</description></item>
/// <item><term>truncated</term><description>optional, true: req_bytes or bytes stop at the bound on summed iovecs/messages</description></item>
/// </list>
/// <para>Lost records: <c>{"ts":...,"ts_ns":...,"func":"lost","cpu":N,"count":N}</c>, where count
/// records were dropped on that CPU because the ring buffer was full.</para>
/// </remarks>
[SkipLocalsInit]
public sealed class JsonEventWriter : IEventSink, IDisposable
{
    private const int FlushThreshold = 64 * 1024;
    // The longest line: fixed keys and numbers (< 1 KiB) plus two unix paths of 108 bytes, each
    // byte of which may become a 6-byte escape after sanitising to at most 3 bytes.
    private const int MaxLine = 8 * 1024;

    private readonly Stream _output;
    private readonly EventClock _clock;
    private readonly byte[] _buffer = new byte[FlushThreshold + MaxLine];
    private int _length;

    /// <param name="output">Where the lines go (stdout); not disposed here.</param>
    /// <param name="clock">Turns the kernel's monotonic timestamps into wall-clock time.</param>
    public JsonEventWriter(Stream output, EventClock clock)
    {
        _output = output;
        _clock = clock;
    }

    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        Span<byte> text = stackalloc byte[3 * UnixPaths.PathLength + 8];
        bool exit = ev.IsExit;
        ref readonly Sock sk = ref ev.Sk;

        WriteTime(ev.TsNs, text);
        Raw(",\"func\":\""u8);
        Raw(Names.FuncName(ev.FuncKind));
        Raw(exit ? "\",\"phase\":\"exit\",\"pid\":"u8 : "\",\"phase\":\"enter\",\"pid\":"u8);
        Number(ev.Pid);
        Raw(",\"tid\":"u8);
        Number(ev.Tid);
        Raw(",\"ppid\":"u8);
        Number(ev.Ppid);
        Raw(",\"comm\":"u8);
        String(text[..EventFormatting.CopySanitized(ev.CommSpan, text, forTerminal: false)]);
        Raw(",\"pcomm\":"u8);
        String(text[..EventFormatting.CopySanitized(ev.PcommSpan, text, forTerminal: false)]);
        Raw(",\"uid\":"u8);
        Number(ev.Uid);
        Raw(",\"gid\":"u8);
        Number(ev.Gid);
        Raw(",\"cpu\":"u8);
        Number(ev.Cpu);
        Raw(",\"cgroup_id\":"u8);
        Number(ev.CgroupId);
        Raw(",\"netns\":"u8);
        Number(ev.Netns);
        Raw(",\"fd\":"u8);
        if (ev.Fd >= 0)
            Number((ulong)ev.Fd);
        else
            Null();

        Raw(",\"family\":"u8);
        if (sk.Family == Sock.AF_UNSPEC)
            Null();
        else
            String(text[..Names.NameOrNumber(Names.Family(sk.Family), sk.Family, text)]);
        Raw(",\"type\":"u8);
        StringOrNull(Names.SocketType(sk.Type));
        Raw(",\"proto\":"u8);
        StringOrNull(Names.Proto(sk.Family, sk.Type, sk.Protocol));

        if (EventFormatting.IsUnix(ev, hasUnixPaths))
        {
            Raw(",\"laddr\":"u8);
            UnixPath(hasUnixPaths ? unixPaths.LocalBytes : default, text);
            Raw(",\"lport\":null,\"raddr\":"u8);
            UnixPath(hasUnixPaths ? unixPaths.RemoteBytes : default, text);
            Raw(",\"rport\":null"u8);
        }
        else
        {
            Raw(",\"laddr\":"u8);
            Endpoint(",\"lport\":"u8, sk.LaddrBytes, sk.Lport, sk.LocalUnknown, text);
            Raw(",\"raddr\":"u8);
            Endpoint(",\"rport\":"u8, sk.RaddrBytes, sk.Rport, sk.RemoteUnknown, text);
        }

        Raw(",\"req_bytes\":"u8);
        if (ev.TryGetRequestedBytes(out ulong asked))
            Number(asked);
        else
            Null();
        Raw(",\"bytes\":"u8);
        if (ev.TryGetBytes(out ulong moved))
            Number(moved);
        else
            Null();
        Raw(",\"ret\":"u8);
        if (exit)
            Number(ev.Ret);
        else
            Null();
        Raw(",\"error\":"u8);
        if (ev.IsError)
            String(text[..Errno.Format(ev.ErrorNumber, text)]);
        else
            Null();
        Raw(",\"duration_ns\":"u8);
        if (exit)
            Number(ev.DurationNs);
        else
            Null();
        Raw(",\"cookie\":"u8);
        if (sk.Cookie != 0)
            Number(sk.Cookie);
        else
            Null();
        Raw(",\"state\":"u8);
        StringOrNull(EventFormatting.TcpState(in ev));

        if (ev.HasFlag(EventFlags.Seq))
        {
            Raw(",\"seq\":"u8);
            Number(sk.Seq);
        }
        if (ev.Arg != 0)
        {
            Raw(",\"arg\":"u8);
            Number(ev.Arg);
        }
        if (ev.HasFlag(EventFlags.PeerFromArgs))
            Raw(",\"peer_from_args\":true"u8);
        if (ev.HasFlag(EventFlags.Truncated))
            Raw(",\"truncated\":true"u8);
        EndLine();
    }

    public void OnLost(in LostEvent lost)
    {
        Span<byte> text = stackalloc byte[EventFormatting.Rfc3339Length];
        WriteTime(lost.TsNs, text);
        Raw(",\"func\":\"lost\",\"cpu\":"u8);
        Number(lost.Cpu);
        Raw(",\"count\":"u8);
        Number(lost.Count);
        EndLine();
    }

    public void Flush()
    {
        WriteOut();
        _output.Flush();
    }

    public void Dispose() => WriteOut();

    private void WriteTime(ulong monotonicNs, Span<byte> text)
    {
        long unixNs = _clock.ToUnixNs(monotonicNs);
        Raw("{\"ts\":\""u8);
        Raw(text[..EventFormatting.WriteRfc3339(unixNs, text)]);
        Raw("\",\"ts_ns\":"u8);
        Number(unixNs);
    }

    private void StringOrNull(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            Null();
        else
            String(value);
    }

    private void Endpoint(ReadOnlySpan<byte> portKey, ReadOnlySpan<byte> addr, ushort port, bool unknown, Span<byte> text)
    {
        if (unknown)
        {
            Null();
            Raw(portKey);
            Null();
            return;
        }
        String(text[..EventFormatting.WriteAddress(addr, text)]);
        Raw(portKey);
        Number(port);
    }

    private void UnixPath(ReadOnlySpan<byte> raw, Span<byte> text)
    {
        Span<byte> path = stackalloc byte[UnixPaths.PathLength + 1];
        int n = UnixPaths.WritePath(raw, path);
        if (n == 0)
            Null();
        else
            String(text[..EventFormatting.CopySanitized(path[..n], text, forTerminal: false)]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Null() => Raw("null"u8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Number(ulong value)
    {
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int n);
        _length += n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Number(long value)
    {
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int n);
        _length += n;
    }

    /// <summary>A JSON string of valid UTF-8 (sanitised by the caller): quotes, backslashes and
    /// control characters escaped, everything else as it is.</summary>
    private void String(ReadOnlySpan<byte> utf8)
    {
        Span<byte> dest = _buffer.AsSpan(_length);
        int o = 0;
        dest[o++] = (byte)'"';
        foreach (byte b in utf8)
        {
            if (b >= 0x20 && b != (byte)'"' && b != (byte)'\\')
            {
                dest[o++] = b;
                continue;
            }
            dest[o++] = (byte)'\\';
            switch (b)
            {
                case (byte)'"': dest[o++] = (byte)'"'; break;
                case (byte)'\\': dest[o++] = (byte)'\\'; break;
                case (byte)'\n': dest[o++] = (byte)'n'; break;
                case (byte)'\r': dest[o++] = (byte)'r'; break;
                case (byte)'\t': dest[o++] = (byte)'t'; break;
                default:
                    dest[o++] = (byte)'u';
                    dest[o++] = (byte)'0';
                    dest[o++] = (byte)'0';
                    dest[o++] = Hex(b >> 4);
                    dest[o++] = Hex(b & 0xf);
                    break;
            }
        }
        dest[o++] = (byte)'"';
        _length += o;
    }

    private static byte Hex(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private void EndLine()
    {
        _buffer[_length++] = (byte)'}';
        _buffer[_length++] = (byte)'\n';
        if (_length >= FlushThreshold)
            WriteOut();
    }

    private void WriteOut()
    {
        if (_length == 0)
            return;
        _output.Write(_buffer, 0, _length);
        _length = 0;
    }
}
