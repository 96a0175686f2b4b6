using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Sysstream.Events;

namespace Sysstream.Output;

/// <summary>
/// Writes one JSON object per line (JSON Lines) for each event, straight into a reused UTF-8
/// buffer (fixed key fragments, numbers formatted in place, strings escaped as JSON requires),
/// which goes to the stream on <see cref="Flush"/> and whenever it holds more than 64 KiB.
/// Nothing allocates per event. The lines are plain JSON: any parser reads them.
/// The hot path does not repeat work: the date and time up to the second are formatted once
/// per second, the last addresses seen are kept as text, and names and strings that need no
/// escaping are copied as they are.
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
    private const long NsPerSecond = 1_000_000_000L;
    // "2026-11-28T01:02:03." : the part of a timestamp that changes once per second.
    private const int SecondPrefixLength = 20;

    private readonly Stream _output;
    private readonly EventClock _clock;
    private readonly byte[] _buffer = new byte[FlushThreshold + MaxLine];
    private int _length;

    private long _prefixSecond = long.MinValue;
    private readonly byte[] _secondPrefix = new byte[SecondPrefixLength];
    private AddressText _address0, _address1;
    private bool _replaceAddress1;

    // The text from "pid" to "netns" depends on the thread alone but for "cpu" in the middle, and
    // one thread makes event after event while a client and a server thread take turns: it is
    // kept per thread, in sets picked by the low bits of the tid (threads of a program have
    // consecutive tids), two entries a set so that two threads sharing those bits do not evict
    // each other.
    private const int ProcessSets = 4;
    private readonly ProcessText[] _processes = new ProcessText[2 * ProcessSets];
    private int _processReplaceSecond; // bit s: the entry of set s to replace is the second

    /// <summary>Bytes a JSON string cannot hold as they are: control characters, '"' and '\'.</summary>
    private static readonly SearchValues<byte> NeedsEscape = SearchValues.Create(EscapeSet());

    /// <summary>Bytes that a comm needs no sanitising or escaping for: printable ASCII but '"' and '\'.</summary>
    private static readonly SearchValues<byte> PlainAscii = SearchValues.Create(PlainSet());

    /// <param name="output">Where the lines go (stdout); not disposed here.</param>
    /// <param name="clock">Turns the kernel's monotonic timestamps into wall-clock time.</param>
    public JsonEventWriter(Stream output, EventClock clock)
    {
        _output = output;
        _clock = clock;
    }

    // One method per part of the line: the whole line in one method compiled to ~14 KB of code
    // that ran markedly slower than these parts (BenchmarkDotNet, DecodeToJson).
    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        Span<byte> text = stackalloc byte[3 * UnixPaths.PathLength + 8];

        WriteTime(ev.TsNs, text);
        Raw(",\"func\":\""u8);
        Raw(Names.FuncName(ev.FuncKind));
        Raw(ev.IsExit ? "\",\"phase\":\"exit\""u8 : "\",\"phase\":\"enter\""u8);
        ProcessFacts(in ev, text);
        SocketFacts(in ev, text);
        Addresses(in ev, in unixPaths, hasUnixPaths, text);
        CallResult(in ev, text);
        EndLine();
    }

    /// <summary>,"fd" to "proto".</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SocketFacts(in SyscallEvent ev, Span<byte> text)
    {
        ref readonly Sock sk = ref ev.Sk;
        Raw(",\"fd\":"u8);
        if (ev.Fd >= 0)
            Number((ulong)ev.Fd);
        else
            Null();

        Raw(",\"family\":"u8);
        if (sk.Family == Sock.AF_UNSPEC)
            Null();
        else if (Names.Family(sk.Family) is { IsEmpty: false } family)
            Literal(family);
        else
            String(text[..Names.NameOrNumber(default, sk.Family, text)]);
        Raw(",\"type\":"u8);
        LiteralOrNull(Names.SocketType(sk.Type));
        Raw(",\"proto\":"u8);
        LiteralOrNull(Names.Proto(sk.Family, sk.Type, sk.Protocol));
    }

    /// <summary>,"laddr" to "rport".</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Addresses(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths, Span<byte> text)
    {
        ref readonly Sock sk = ref ev.Sk;
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
            Endpoint(",\"lport\":"u8, sk.LaddrBytes, sk.Lport, sk.LocalUnknown);
            Raw(",\"raddr\":"u8);
            Endpoint(",\"rport\":"u8, sk.RaddrBytes, sk.Rport, sk.RemoteUnknown);
        }
    }

    /// <summary>,"req_bytes" to the end: what the call moved and returned, and the optional keys.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CallResult(in SyscallEvent ev, Span<byte> text)
    {
        ref readonly Sock sk = ref ev.Sk;
        bool exit = ev.IsExit;
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
        LiteralOrNull(EventFormatting.TcpState(in ev));

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

    /// <summary>{"ts":"...","ts_ns":N, with the part up to the second formatted once per second.</summary>
    private void WriteTime(ulong monotonicNs, Span<byte> text)
    {
        long unixNs = _clock.ToUnixNs(monotonicNs);
        Raw("{\"ts\":\""u8);
        if (unixNs >= 0)
        {
            long second = unixNs / NsPerSecond;
            if (second != _prefixSecond)
                NewSecond(second, text);
            Raw(_secondPrefix);
            FixedDigits((ulong)(unixNs - second * NsPerSecond), 9);
            Raw("Z\",\"ts_ns\":"u8);
            Number(unixNs);
            return;
        }
        Raw(text[..EventFormatting.WriteRfc3339(unixNs, text)]);
        Raw("\",\"ts_ns\":"u8);
        Number(unixNs);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NewSecond(long second, Span<byte> text)
    {
        EventFormatting.WriteRfc3339(second * NsPerSecond, text);
        text[..SecondPrefixLength].CopyTo(_secondPrefix);
        _prefixSecond = second;
    }

    /// <summary>,"pid":N,...,"netns":N from the thread's kept text with the cpu put in, or
    /// written and kept.</summary>
    private void ProcessFacts(in SyscallEvent ev, Span<byte> text)
    {
        var key = new ProcessKey(in ev);
        int set = (int)(ev.Tid % ProcessSets);
        ref ProcessText entry = ref _processes[2 * set];
        if (!entry.Holds(in key))
        {
            entry = ref _processes[2 * set + 1];
            if (!entry.Holds(in key))
            {
                NewProcessFacts(in ev, in key, set, text);
                return;
            }
            _processReplaceSecond &= ~(1 << set);
        }
        else
        {
            _processReplaceSecond |= 1 << set;
        }
        ReadOnlySpan<byte> kept = entry.Text;
        Raw(kept[..entry.HeadLength]);
        Number(ev.Cpu);
        Raw(kept[entry.HeadLength..entry.Length]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NewProcessFacts(in SyscallEvent ev, in ProcessKey key, int set, Span<byte> text)
    {
        int start = _length;
        Raw(",\"pid\":"u8);
        Number(ev.Pid);
        Raw(",\"tid\":"u8);
        Number(ev.Tid);
        Raw(",\"ppid\":"u8);
        Number(ev.Ppid);
        Raw(",\"comm\":"u8);
        Name(ev.CommSpan, text);
        Raw(",\"pcomm\":"u8);
        Name(ev.PcommSpan, text);
        Raw(",\"uid\":"u8);
        Number(ev.Uid);
        Raw(",\"gid\":"u8);
        Number(ev.Gid);
        Raw(",\"cpu\":"u8);
        int head = _length - start;
        Number(ev.Cpu);
        int tail = _length;
        Raw(",\"cgroup_id\":"u8);
        Number(ev.CgroupId);
        Raw(",\"netns\":"u8);
        Number(ev.Netns);

        int tailLength = _length - tail;
        if (head + tailLength > ProcessText.Capacity)
            return; // names full of escapes: written, not kept
        bool second = (_processReplaceSecond & (1 << set)) != 0;
        _processReplaceSecond ^= 1 << set;
        ref ProcessText entry = ref _processes[2 * set + (second ? 1 : 0)];
        entry.Key = key;
        Span<byte> kept = entry.Text;
        _buffer.AsSpan(start, head).CopyTo(kept);
        _buffer.AsSpan(tail, tailLength).CopyTo(kept[head..]);
        entry.HeadLength = head;
        entry.Length = head + tailLength;
    }

    /// <summary>A name from the kernel (comm): copied as it is when it is plain printable ASCII
    /// without quotes or backslashes, the common case; otherwise sanitised and escaped.</summary>
    private void Name(ReadOnlySpan<byte> raw, Span<byte> text)
    {
        if (raw.IndexOfAnyExcept(PlainAscii) < 0)
        {
            Literal(raw);
            return;
        }
        String(text[..EventFormatting.CopySanitized(raw, text, forTerminal: false)]);
    }

    /// <summary>A string known to need no escaping (the names of numbers, comms checked above).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Literal(ReadOnlySpan<byte> value)
    {
        Span<byte> dest = _buffer.AsSpan(_length, value.Length + 2);
        dest[0] = (byte)'"';
        value.CopyTo(dest[1..]);
        dest[^1] = (byte)'"';
        _length += value.Length + 2;
    }

    private void LiteralOrNull(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            Null();
        else
            Literal(value);
    }

    private void Endpoint(ReadOnlySpan<byte> portKey, ReadOnlySpan<byte> addr, ushort port, bool unknown)
    {
        if (unknown)
        {
            Null();
            Raw(portKey);
            Null();
            return;
        }
        Literal(AddressTextOf(addr));
        Raw(portKey);
        Number(port);
    }

    /// <summary>The text of an address, from a two-entry cache: a connection's two addresses
    /// repeat event after event.</summary>
    private ReadOnlySpan<byte> AddressTextOf(ReadOnlySpan<byte> addr16)
    {
        if (_address0.Length > 0 && addr16.SequenceEqual(_address0.Address))
            return ((ReadOnlySpan<byte>)_address0.Text)[.._address0.Length];
        if (_address1.Length > 0 && addr16.SequenceEqual(_address1.Address))
            return ((ReadOnlySpan<byte>)_address1.Text)[.._address1.Length];
        ref AddressText slot = ref _replaceAddress1 ? ref _address1 : ref _address0;
        _replaceAddress1 = !_replaceAddress1;
        addr16.CopyTo(slot.Address);
        slot.Length = EventFormatting.WriteAddress(addr16, slot.Text);
        return ((ReadOnlySpan<byte>)slot.Text)[..slot.Length];
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

    // ------------------------------------------------------------------ numbers

    private static ReadOnlySpan<byte> TwoDigits =>
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    private static readonly ulong[] PowersOf10 =
    {
        1UL, 10UL, 100UL, 1_000UL, 10_000UL, 100_000UL, 1_000_000UL, 10_000_000UL, 100_000_000UL,
        1_000_000_000UL, 10_000_000_000UL, 100_000_000_000UL, 1_000_000_000_000UL, 10_000_000_000_000UL,
        100_000_000_000_000UL, 1_000_000_000_000_000UL, 10_000_000_000_000_000UL, 100_000_000_000_000_000UL,
        1_000_000_000_000_000_000UL, 10_000_000_000_000_000_000UL,
    };

    /// <summary>Decimal digits of a number (at least 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CountDigits(ulong value)
    {
        // floor(log10) from floor(log2): 1233/4096 ~ log10(2), corrected by one comparison.
        int t = (BitOperations.Log2(value | 1) + 1) * 1233 >> 12;
        return t - (value < PowersOf10[t] ? 1 : 0) + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Number(ulong value)
    {
        if (value < 10)
        {
            _buffer[_length++] = (byte)('0' + (int)value);
            return;
        }
        int n = CountDigits(value);
        WriteDigitsBackwards(value, _length + n);
        _length += n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Number(long value)
    {
        if (value < 0)
        {
            _buffer[_length++] = (byte)'-';
            Number((ulong)-value); // -long.MinValue wraps to its own magnitude as ulong
            return;
        }
        Number((ulong)value);
    }

    /// <summary>Exactly <paramref name="count"/> digits, zero-padded (fractions of a second).</summary>
    private void FixedDigits(ulong value, int count)
    {
        _buffer.AsSpan(_length, count).Fill((byte)'0');
        if (value > 0)
            WriteDigitsBackwards(value, _length + count);
        _length += count;
    }

    /// <summary>Writes the digits of <paramref name="value"/> so that the last one is just before
    /// <paramref name="end"/>, two at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDigitsBackwards(ulong value, int end)
    {
        ref byte dest = ref MemoryMarshal.GetArrayDataReference(_buffer);
        ref byte pairs = ref MemoryMarshal.GetReference(TwoDigits);
        // end <= _buffer.Length: every line fits in MaxLine past the flush threshold
        if ((uint)end > (uint)_buffer.Length)
            ThrowLineTooLong();
        while (value >= 100)
        {
            ulong q = value / 100;
            int r = (int)(value - q * 100) * 2;
            end -= 2;
            Unsafe.Add(ref dest, end) = Unsafe.Add(ref pairs, r);
            Unsafe.Add(ref dest, end + 1) = Unsafe.Add(ref pairs, r + 1);
            value = q;
        }
        if (value >= 10)
        {
            int r = (int)value * 2;
            Unsafe.Add(ref dest, end - 2) = Unsafe.Add(ref pairs, r);
            Unsafe.Add(ref dest, end - 1) = Unsafe.Add(ref pairs, r + 1);
        }
        else
        {
            Unsafe.Add(ref dest, end - 1) = (byte)('0' + (int)value);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLineTooLong() => throw new InvalidOperationException("a JSON line outgrew its buffer");

    // ------------------------------------------------------------------ strings

    /// <summary>A JSON string of valid UTF-8 (sanitised by the caller): quotes, backslashes and
    /// control characters escaped, everything else as it is.</summary>
    private void String(ReadOnlySpan<byte> utf8)
    {
        int first = utf8.IndexOfAny(NeedsEscape);
        if (first < 0)
        {
            Literal(utf8);
            return;
        }
        Span<byte> dest = _buffer.AsSpan(_length);
        int o = 0;
        dest[o++] = (byte)'"';
        utf8[..first].CopyTo(dest[o..]);
        o += first;
        foreach (byte b in utf8[first..])
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

    private static byte[] EscapeSet()
    {
        var set = new byte[34];
        for (int i = 0; i < 32; i++)
            set[i] = (byte)i;
        set[32] = (byte)'"';
        set[33] = (byte)'\\';
        return set;
    }

    private static byte[] PlainSet()
    {
        var set = new List<byte>();
        for (int b = 0x20; b < 0x7f; b++)
        {
            if (b != '"' && b != '\\')
                set.Add((byte)b);
        }
        return set.ToArray();
    }

    /// <summary>An address and its text ("127.0.0.1", "::1").</summary>
    private struct AddressText
    {
        public Bytes16 Address;
        public AddressChars Text;
        public int Length; // 0: empty slot
    }

    /// <summary>The fields the text from "pid" to "netns" comes from, "cpu" aside: whole
    /// names, bytes past the NUL included, so that equal keys always mean equal text.</summary>
    private readonly struct ProcessKey
    {
        private readonly ulong _pidTid, _ppidUid, _gidNetns, _cgroupId;
        private readonly Vector128<byte> _comm, _pcomm;

        public unsafe ProcessKey(in SyscallEvent ev)
        {
            _pidTid = ev.Pid | (ulong)ev.Tid << 32;
            _ppidUid = ev.Ppid | (ulong)ev.Uid << 32;
            _gidNetns = ev.Gid | (ulong)ev.Netns << 32;
            _cgroupId = ev.CgroupId;
            _comm = Vector128.LoadUnsafe(ref Unsafe.AsRef(in ev.Comm[0]));
            _pcomm = Vector128.LoadUnsafe(ref Unsafe.AsRef(in ev.Pcomm[0]));
        }

        public bool Equals(in ProcessKey other) =>
            ((_pidTid ^ other._pidTid) | (_ppidUid ^ other._ppidUid) | (_gidNetns ^ other._gidNetns)
                | (_cgroupId ^ other._cgroupId)) == 0
            && ((_comm ^ other._comm) | (_pcomm ^ other._pcomm)) == Vector128<byte>.Zero;
    }

    /// <summary>A thread's text from "pid" to "netns": up to and with the "cpu" key (the head),
    /// then from "cgroup_id" on.</summary>
    private struct ProcessText
    {
        public const int Capacity = 256;

        public ProcessKey Key;
        public ProcessChars Text;
        public int HeadLength;
        public int Length; // 0: empty entry

        public readonly bool Holds(in ProcessKey key) => Length != 0 && Key.Equals(in key);
    }

    [InlineArray(ProcessText.Capacity)]
    private struct ProcessChars
    {
        private byte _b;
    }

    [InlineArray(16)]
    private struct Bytes16
    {
        private byte _b;
    }

    [InlineArray(EventFormatting.MaxAddressLength)]
    private struct AddressChars
    {
        private byte _b;
    }

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
