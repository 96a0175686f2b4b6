using System.Buffers.Text;
using System.Text;
using Sysstream.Events;

namespace Sysstream.Output;

/// <summary>
/// The human view of <c>sysstream trace</c>: one line per event under a header
/// (<see cref="Header"/>). Lines are built in a reusable UTF-8 buffer that goes to the stream on
/// <see cref="Flush"/> and whenever it holds more than 64 KiB; nothing allocates per event.
/// </summary>
/// <remarks>
/// TIME(s) counts from the first event shown. Exits show as <c>&lt;func&gt;_RETURN</c>. LEN is the
/// size asked for at the entry of a data call and the size moved at its exit, -1 for a failed
/// call. NOTES: the errno name and how long the call waited for failures, socket() arguments,
/// the peer of connect() and of unconnected sends, "local -> remote" for calls with a socket,
/// "sent N bytes" / "received N bytes" for data calls. A value wider than its column pushes the
/// rest of the line right by what it needs; later columns catch up where they can.
/// </remarks>
public sealed class TableEventWriter : IEventSink
{
    private const int FlushThreshold = 64 * 1024;
    private const int MaxLineLength = 2048;

    // Column ends: the width of each column includes its trailing gap.
    private const int TimeEnd = 10;
    private const int FuncEnd = TimeEnd + 16;
    private const int PidEnd = FuncEnd + 7;
    private const int TidEnd = PidEnd + 7;
    private const int CommEnd = TidEnd + 16;
    private const int PpidEnd = CommEnd + 7;
    private const int PcommEnd = PpidEnd + 16;
    private const int UidEnd = PcommEnd + 5;
    private const int GidEnd = UidEnd + 5;
    private const int CpuEnd = GidEnd + 5;
    private const int FdEnd = CpuEnd + 4;
    private const int LenEnd = FdEnd + 7;

    /// <summary>The header line (without its newline).</summary>
    public static string Header { get; } = BuildHeader();

    private readonly Stream _output;
    private readonly EventClock _clock;
    private readonly byte[] _buffer = new byte[FlushThreshold + MaxLineLength];
    private int _length;

    /// <param name="output">Where the lines go (stdout); not disposed here.</param>
    /// <param name="clock">Turns event timestamps into seconds since the first event.</param>
    /// <param name="writeHeader">Start with the header line.</param>
    public TableEventWriter(Stream output, EventClock clock, bool writeHeader = true)
    {
        _output = output;
        _clock = clock;
        if (writeHeader)
        {
            _length = Encoding.UTF8.GetBytes(Header, _buffer);
            _buffer[_length++] = (byte)'\n';
        }
    }

    public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
    {
        var line = _buffer.AsSpan(_length, MaxLineLength);
        int w = EventFormatting.WriteSeconds(_clock.Relative(ev.TsNs), line);
        w = PadTo(line, w, TimeEnd);

        var func = ev.FuncKind;
        w += EventFormatting.Append(line[w..], Names.FuncName(func));
        if (ev.IsExit)
            w += EventFormatting.Append(line[w..], "_RETURN"u8);
        w = PadTo(line, w, FuncEnd);

        w = Number(line, w, ev.Pid, PidEnd);
        w = Number(line, w, ev.Tid, TidEnd);
        w += EventFormatting.CopySanitized(ev.CommSpan, line[w..], forTerminal: true);
        w = PadTo(line, w, CommEnd);
        w = Number(line, w, ev.Ppid, PpidEnd);
        w += EventFormatting.CopySanitized(ev.PcommSpan, line[w..], forTerminal: true);
        w = PadTo(line, w, PcommEnd);
        w = Number(line, w, ev.Uid, UidEnd);
        w = Number(line, w, ev.Gid, GidEnd);
        w = Number(line, w, ev.Cpu, CpuEnd);
        if (ev.Fd >= 0)
            w = Number(line, w, (uint)ev.Fd, FdEnd);
        else
            w = PadTo(line, w, FdEnd);

        w += WriteLen(in ev, line[w..]);
        w = PadTo(line, w, LenEnd);
        w += WriteNotes(in ev, in unixPaths, hasUnixPaths, line[w..]);
        EndLine(w);
    }

    public void OnLost(in LostEvent lost)
    {
        var line = _buffer.AsSpan(_length, MaxLineLength);
        int w = EventFormatting.WriteSeconds(_clock.Relative(lost.TsNs), line);
        w = PadTo(line, w, TimeEnd);
        w += EventFormatting.Append(line[w..], "LOST"u8);
        w = PadTo(line, w, GidEnd);
        w = Number(line, w, lost.Cpu, CpuEnd);
        w = PadTo(line, w, LenEnd);
        Utf8Formatter.TryFormat(lost.Count, line[w..], out int n);
        w += n;
        w += EventFormatting.Append(line[w..], " events lost on CPU "u8);
        Utf8Formatter.TryFormat(lost.Cpu, line[w..], out n);
        EndLine(w + n);
    }

    public void Flush()
    {
        WriteOut();
        _output.Flush();
    }

    private void EndLine(int w)
    {
        var line = _buffer.AsSpan(_length);
        while (w > 0 && line[w - 1] == (byte)' ')
            w--;
        line[w++] = (byte)'\n';
        _length += w;
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

    // LEN: asked at a data call's entry, moved at its exit, -1 when the call failed.
    private static int WriteLen(in SyscallEvent ev, Span<byte> dest)
    {
        if (ev.IsError)
            return EventFormatting.Append(dest, "-1"u8);
        int n;
        if (ev.IsExit)
        {
            if (ev.TryGetBytes(out ulong moved))
                Utf8Formatter.TryFormat(moved, dest, out n);
            else if (ev.FuncKind.IsData())
                Utf8Formatter.TryFormat(ev.Ret, dest, out n);
            else
                n = 0;
            return n;
        }
        if (ev.TryGetRequestedBytes(out ulong asked))
        {
            Utf8Formatter.TryFormat(asked, dest, out n);
            return n;
        }
        return 0;
    }

    private static int WriteNotes(in SyscallEvent ev, in UnixPaths paths, bool hasUnixPaths, Span<byte> dest)
    {
        var func = ev.FuncKind;
        int w = 0, n;

        if (ev.IsError)
        {
            w += Errno.Format(ev.ErrorNumber, dest);
            w += EventFormatting.Append(dest[w..], " (waited "u8);
            w += EventFormatting.WriteDuration(ev.DurationNs, dest[w..]);
            dest[w++] = (byte)')';
            if (func == Func.Connect)
                w = Then(dest, w, " -> "u8, EventFormatting.WriteEnd(in ev, in paths, hasUnixPaths, remote: true, dest[(w + 4)..]));
            return w;
        }

        switch (func)
        {
            case Func.Socket or Func.Socketpair when !ev.IsExit:
                return WriteSocketArgs(in ev, dest);
            case Func.Socket:
                return 0;
            case Func.Socketpair:
                w += EventFormatting.Append(dest, "peer fd "u8);
                Utf8Formatter.TryFormat((long)ev.Arg, dest[w..], out n);
                return w + n;
            case Func.Connect when !ev.IsExit:
                return WriteTuple(in ev, in paths, hasUnixPaths, dest, local: false);
            case Func.Bind when !ev.IsExit:
                return WriteTuple(in ev, in paths, hasUnixPaths, dest, remote: false);
            case Func.Listen when !ev.IsExit:
                w += WriteTuple(in ev, in paths, hasUnixPaths, dest, remote: false);
                if (w > 0)
                    dest[w++] = (byte)' ';
                w += EventFormatting.Append(dest[w..], "backlog "u8);
                Utf8Formatter.TryFormat((long)ev.Arg, dest[w..], out n);
                return w + n;
            case Func.Accept or Func.Accept4 when ev.IsExit:
                w += EventFormatting.Append(dest, "new fd "u8);
                Utf8Formatter.TryFormat(ev.Ret, dest[w..], out n);
                w += n;
                return Then(dest, w, " "u8, WriteTuple(in ev, in paths, hasUnixPaths, dest[(w + 1)..]));
            case Func.Shutdown when !ev.IsExit:
                w += EventFormatting.Append(dest, ev.Arg switch
                {
                    0 => "SHUT_RD"u8,
                    1 => "SHUT_WR"u8,
                    2 => "SHUT_RDWR"u8,
                    _ => "how ?"u8,
                });
                return Then(dest, w, " "u8, WriteTuple(in ev, in paths, hasUnixPaths, dest[(w + 1)..]));
        }

        if (func.IsData())
        {
            bool send = func.IsSend();
            bool peerFromArgs = ev.HasFlag(EventFlags.PeerFromArgs);
            if (!ev.IsExit)
                return peerFromArgs ? WriteTuple(in ev, in paths, hasUnixPaths, dest, local: false) : 0;
            if (!ev.TryGetBytes(out ulong moved))
                return 0;
            w += EventFormatting.Append(dest, send ? "sent "u8 : func == Func.Splice ? "spliced "u8 : "received "u8);
            Utf8Formatter.TryFormat(moved, dest[w..], out n);
            w += n;
            w += EventFormatting.Append(dest[w..], moved == 1 ? " byte"u8 : " bytes"u8);
            if (func.IsMultiMessage())
            {
                w += EventFormatting.Append(dest[w..], " in "u8);
                Utf8Formatter.TryFormat(ev.Ret, dest[w..], out n);
                w += n;
                w += EventFormatting.Append(dest[w..], ev.Ret == 1 ? " message"u8 : " messages"u8);
            }
            if (peerFromArgs)
            {
                var sep = send ? " to "u8 : " from "u8;
                w = Then(dest, w, sep, EventFormatting.WriteEnd(in ev, in paths, hasUnixPaths, remote: true, dest[(w + sep.Length)..]));
            }
            return w;
        }

        // close, shutdown/bind/listen/connect exits and anything else with a socket
        return WriteTuple(in ev, in paths, hasUnixPaths, dest);
    }

    // "AF_INET SOCK_STREAM|SOCK_CLOEXEC IPPROTO_TCP" from socket()'s arguments.
    private static int WriteSocketArgs(in SyscallEvent ev, Span<byte> dest)
    {
        int w = Names.NameOrNumber(Names.FamilyConstant(ev.Sk.Family), ev.Sk.Family, dest);
        dest[w++] = (byte)' ';
        int type = (int)ev.Arg;
        w += Names.NameOrNumber(Names.SocketTypeConstant(type), type & Names.SOCK_TYPE_MASK, dest[w..]);
        if ((type & Names.SOCK_NONBLOCK) != 0)
            w += EventFormatting.Append(dest[w..], "|SOCK_NONBLOCK"u8);
        if ((type & Names.SOCK_CLOEXEC) != 0)
            w += EventFormatting.Append(dest[w..], "|SOCK_CLOEXEC"u8);
        if (ev.Sk.Protocol != 0)
        {
            dest[w++] = (byte)' ';
            var name = ev.Sk.Family is Sock.AF_INET or Sock.AF_INET6
                ? Names.IpProtocolConstant(ev.Sk.Protocol)
                : default;
            w += Names.NameOrNumber(name, ev.Sk.Protocol, dest[w..]);
        }
        return w;
    }

    // "local -> remote", "local", or "-> remote", as far as they are known.
    private static int WriteTuple(in SyscallEvent ev, in UnixPaths paths, bool hasUnixPaths, Span<byte> dest,
        bool local = true, bool remote = true)
    {
        int w = local ? EventFormatting.WriteEnd(in ev, in paths, hasUnixPaths, remote: false, dest) : 0;
        if (!remote)
            return w;
        var arrow = w == 0 ? "-> "u8 : " -> "u8;
        return Then(dest, w, arrow, EventFormatting.WriteEnd(in ev, in paths, hasUnixPaths, remote: true, dest[(w + arrow.Length)..]));
    }

    // Completes "<separator><value>" after position w when a value of length n was written just
    // past the separator's room; drops both when there was no value.
    private static int Then(Span<byte> dest, int w, ReadOnlySpan<byte> separator, int n)
    {
        if (n == 0)
            return w;
        separator.CopyTo(dest[w..]);
        return w + separator.Length + n;
    }

    private static int Number(Span<byte> line, int w, uint value, int columnEnd)
    {
        Utf8Formatter.TryFormat(value, line[w..], out int n);
        return PadTo(line, w + n, columnEnd);
    }

    // Spaces up to the column's end, or one when the value already reached it.
    private static int PadTo(Span<byte> line, int w, int columnEnd)
    {
        int end = Math.Max(columnEnd, w + 1);
        line[w..end].Fill((byte)' ');
        return end;
    }

    private static string BuildHeader()
    {
        var sb = new StringBuilder();
        void Col(string name, int end)
        {
            sb.Append(name);
            sb.Append(' ', Math.Max(1, end - sb.Length));
        }
        Col("TIME(s)", TimeEnd);
        Col("FUNC", FuncEnd);
        Col("PID", PidEnd);
        Col("TID", TidEnd);
        Col("COMM", CommEnd);
        Col("PPID", PpidEnd);
        Col("PCOMM", PcommEnd);
        Col("UID", UidEnd);
        Col("GID", GidEnd);
        Col("CPU", CpuEnd);
        Col("FD", FdEnd);
        Col("LEN", LenEnd);
        sb.Append("NOTES");
        return sb.ToString();
    }
}
