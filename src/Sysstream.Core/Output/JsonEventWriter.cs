using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sysstream.Events;

namespace Sysstream.Output;

/// <summary>
/// Writes one JSON object per line (JSON Lines) for each event, with a reused
/// <see cref="Utf8JsonWriter"/> over a reusable buffer that goes to the stream on
/// <see cref="Flush"/> and whenever it holds more than 64 KiB. Nothing allocates per event.
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
public sealed class JsonEventWriter : IEventSink, IDisposable
{
    private const int FlushThreshold = 64 * 1024;

    private static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts"u8);
    private static readonly JsonEncodedText TsNs = JsonEncodedText.Encode("ts_ns"u8);
    private static readonly JsonEncodedText FuncKey = JsonEncodedText.Encode("func"u8);
    private static readonly JsonEncodedText PhaseKey = JsonEncodedText.Encode("phase"u8);
    private static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid"u8);
    private static readonly JsonEncodedText Tid = JsonEncodedText.Encode("tid"u8);
    private static readonly JsonEncodedText Ppid = JsonEncodedText.Encode("ppid"u8);
    private static readonly JsonEncodedText Comm = JsonEncodedText.Encode("comm"u8);
    private static readonly JsonEncodedText Pcomm = JsonEncodedText.Encode("pcomm"u8);
    private static readonly JsonEncodedText Uid = JsonEncodedText.Encode("uid"u8);
    private static readonly JsonEncodedText Gid = JsonEncodedText.Encode("gid"u8);
    private static readonly JsonEncodedText Cpu = JsonEncodedText.Encode("cpu"u8);
    private static readonly JsonEncodedText CgroupId = JsonEncodedText.Encode("cgroup_id"u8);
    private static readonly JsonEncodedText Netns = JsonEncodedText.Encode("netns"u8);
    private static readonly JsonEncodedText Fd = JsonEncodedText.Encode("fd"u8);
    private static readonly JsonEncodedText Family = JsonEncodedText.Encode("family"u8);
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type"u8);
    private static readonly JsonEncodedText Proto = JsonEncodedText.Encode("proto"u8);
    private static readonly JsonEncodedText Laddr = JsonEncodedText.Encode("laddr"u8);
    private static readonly JsonEncodedText Lport = JsonEncodedText.Encode("lport"u8);
    private static readonly JsonEncodedText Raddr = JsonEncodedText.Encode("raddr"u8);
    private static readonly JsonEncodedText Rport = JsonEncodedText.Encode("rport"u8);
    private static readonly JsonEncodedText ReqBytes = JsonEncodedText.Encode("req_bytes"u8);
    private static readonly JsonEncodedText Bytes = JsonEncodedText.Encode("bytes"u8);
    private static readonly JsonEncodedText Ret = JsonEncodedText.Encode("ret"u8);
    private static readonly JsonEncodedText Error = JsonEncodedText.Encode("error"u8);
    private static readonly JsonEncodedText DurationNs = JsonEncodedText.Encode("duration_ns"u8);
    private static readonly JsonEncodedText Cookie = JsonEncodedText.Encode("cookie"u8);
    private static readonly JsonEncodedText State = JsonEncodedText.Encode("state"u8);
    private static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq"u8);
    private static readonly JsonEncodedText Arg = JsonEncodedText.Encode("arg"u8);
    private static readonly JsonEncodedText PeerFromArgs = JsonEncodedText.Encode("peer_from_args"u8);
    private static readonly JsonEncodedText Truncated = JsonEncodedText.Encode("truncated"u8);
    private static readonly JsonEncodedText Count = JsonEncodedText.Encode("count"u8);

    private readonly Stream _output;
    private readonly EventClock _clock;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushThreshold + 16 * 1024);
    private readonly Utf8JsonWriter _json;

    /// <param name="output">Where the lines go (stdout); not disposed here.</param>
    /// <param name="clock">Turns the kernel's monotonic timestamps into wall-clock time.</param>
    public JsonEventWriter(Stream output, EventClock clock)
    {
        _output = output;
        _clock = clock;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions
        {
            // Names and paths stay readable UTF-8; JSON's own escapes still apply.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            // Every object is complete by construction.
            SkipValidation = true,
        });
    }

    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        var w = _json;
        Span<byte> text = stackalloc byte[3 * UnixPaths.PathLength + 8];
        bool exit = ev.IsExit;
        ref readonly Sock sk = ref ev.Sk;

        w.WriteStartObject();
        WriteTime(ev.TsNs, text);
        w.WriteString(FuncKey, Names.FuncName(ev.FuncKind));
        w.WriteString(PhaseKey, exit ? "exit"u8 : "enter"u8);
        w.WriteNumber(Pid, ev.Pid);
        w.WriteNumber(Tid, ev.Tid);
        w.WriteNumber(Ppid, ev.Ppid);
        w.WriteString(Comm, text[..EventFormatting.CopySanitized(ev.CommSpan, text, forTerminal: false)]);
        w.WriteString(Pcomm, text[..EventFormatting.CopySanitized(ev.PcommSpan, text, forTerminal: false)]);
        w.WriteNumber(Uid, ev.Uid);
        w.WriteNumber(Gid, ev.Gid);
        w.WriteNumber(Cpu, ev.Cpu);
        w.WriteNumber(CgroupId, ev.CgroupId);
        w.WriteNumber(Netns, ev.Netns);
        if (ev.Fd >= 0)
            w.WriteNumber(Fd, ev.Fd);
        else
            w.WriteNull(Fd);

        if (sk.Family == Sock.AF_UNSPEC)
            w.WriteNull(Family);
        else
            w.WriteString(Family, text[..Names.NameOrNumber(Names.Family(sk.Family), sk.Family, text)]);
        StringOrNull(Type, Names.SocketType(sk.Type));
        StringOrNull(Proto, Names.Proto(sk.Family, sk.Type, sk.Protocol));

        if (EventFormatting.IsUnix(ev, hasUnixPaths))
        {
            UnixPath(Laddr, hasUnixPaths ? unixPaths.LocalBytes : default, text);
            w.WriteNull(Lport);
            UnixPath(Raddr, hasUnixPaths ? unixPaths.RemoteBytes : default, text);
            w.WriteNull(Rport);
        }
        else
        {
            Endpoint(Laddr, Lport, sk.LaddrBytes, sk.Lport, sk.LocalUnknown, text);
            Endpoint(Raddr, Rport, sk.RaddrBytes, sk.Rport, sk.RemoteUnknown, text);
        }

        if (ev.TryGetRequestedBytes(out ulong asked))
            w.WriteNumber(ReqBytes, asked);
        else
            w.WriteNull(ReqBytes);
        if (ev.TryGetBytes(out ulong moved))
            w.WriteNumber(Bytes, moved);
        else
            w.WriteNull(Bytes);
        if (exit)
            w.WriteNumber(Ret, ev.Ret);
        else
            w.WriteNull(Ret);
        if (ev.IsError)
            w.WriteString(Error, text[..Errno.Format(ev.ErrorNumber, text)]);
        else
            w.WriteNull(Error);
        if (exit)
            w.WriteNumber(DurationNs, ev.DurationNs);
        else
            w.WriteNull(DurationNs);
        if (sk.Cookie != 0)
            w.WriteNumber(Cookie, sk.Cookie);
        else
            w.WriteNull(Cookie);
        StringOrNull(State, EventFormatting.TcpState(in ev));

        if (ev.HasFlag(EventFlags.Seq))
            w.WriteNumber(Seq, sk.Seq);
        if (ev.Arg != 0)
            w.WriteNumber(Arg, ev.Arg);
        if (ev.HasFlag(EventFlags.PeerFromArgs))
            w.WriteBoolean(PeerFromArgs, true);
        if (ev.HasFlag(EventFlags.Truncated))
            w.WriteBoolean(Truncated, true);
        w.WriteEndObject();
        EndLine();
    }

    public void OnLost(in LostEvent lost)
    {
        Span<byte> text = stackalloc byte[EventFormatting.Rfc3339Length];
        _json.WriteStartObject();
        WriteTime(lost.TsNs, text);
        _json.WriteString(FuncKey, "lost"u8);
        _json.WriteNumber(Cpu, lost.Cpu);
        _json.WriteNumber(Count, lost.Count);
        _json.WriteEndObject();
        EndLine();
    }

    public void Flush()
    {
        WriteOut();
        _output.Flush();
    }

    public void Dispose()
    {
        WriteOut();
        _json.Dispose();
    }

    private void WriteTime(ulong monotonicNs, Span<byte> text)
    {
        long unixNs = _clock.ToUnixNs(monotonicNs);
        _json.WriteString(Ts, text[..EventFormatting.WriteRfc3339(unixNs, text)]);
        _json.WriteNumber(TsNs, unixNs);
    }

    private void StringOrNull(JsonEncodedText key, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            _json.WriteNull(key);
        else
            _json.WriteString(key, value);
    }

    private void Endpoint(JsonEncodedText addrKey, JsonEncodedText portKey, ReadOnlySpan<byte> addr, ushort port,
        bool unknown, Span<byte> text)
    {
        if (unknown)
        {
            _json.WriteNull(addrKey);
            _json.WriteNull(portKey);
            return;
        }
        _json.WriteString(addrKey, text[..EventFormatting.WriteAddress(addr, text)]);
        _json.WriteNumber(portKey, port);
    }

    private void UnixPath(JsonEncodedText key, ReadOnlySpan<byte> raw, Span<byte> text)
    {
        Span<byte> path = stackalloc byte[UnixPaths.PathLength + 1];
        int n = UnixPaths.WritePath(raw, path);
        if (n == 0)
        {
            _json.WriteNull(key);
            return;
        }
        _json.WriteString(key, text[..EventFormatting.CopySanitized(path[..n], text, forTerminal: false)]);
    }

    private void EndLine()
    {
        _json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        _json.Reset();
        if (_buffer.WrittenCount >= FlushThreshold)
            WriteOut();
    }

    private void WriteOut()
    {
        if (_buffer.WrittenCount == 0)
            return;
        _output.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }
}
