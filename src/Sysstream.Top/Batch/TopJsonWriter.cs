using System.Text.Json;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Output;
using Sysstream.Top.Model;

namespace Sysstream.Top.Batch;

/// <summary>
/// One JSON object per frame, on one line (`top -o json`): totals, processes, connections and
/// remote hosts, busiest first. Written with Utf8JsonWriter (no reflection). Schema in the README.
/// </summary>
public sealed class TopJsonWriter
{
    /// <summary>Buffered JSON beyond this goes to the stream, so a large frame is never held whole.</summary>
    private const int FlushBytes = 64 * 1024;

    private readonly Stream _out;
    private readonly EventClock _clock;
    private readonly byte[] _ts = new byte[40];

    public TopJsonWriter(Stream output, EventClock clock)
    {
        _out = output;
        _clock = clock;
    }

    public void Write(TopFrame frame)
    {
        using (var w = new Utf8JsonWriter(_out, new JsonWriterOptions { SkipValidation = false }))
        {
            Write(w, frame);
        }
        _out.WriteByte((byte)'\n');
        _out.Flush();
    }

    public void Write(Utf8JsonWriter w, TopFrame frame)
    {
        var state = new TopState { Frame = frame };
        w.WriteStartObject();
        WriteTime(w, Key.Ts, frame.Snapshot.TakenNs);
        w.WriteNumber(Key.TsNs, _clock.ToUnixNs(frame.Snapshot.TakenNs));
        w.WriteNumber(Key.IntervalS, Math.Round(frame.IntervalSeconds, 6));

        TotalsRow t = frame.Totals;
        w.WriteStartObject(Key.Totals);
        w.WriteNumber(Key.TxBytes, t.TxBytes);
        w.WriteNumber(Key.RxBytes, t.RxBytes);
        WriteRate(w, Key.TxRate, t.TxRate);
        WriteRate(w, Key.RxRate, t.RxRate);
        w.WriteNumber(Key.Processes, t.Processes);
        w.WriteNumber(Key.ExitedProcesses, t.ExitedProcesses);
        w.WriteNumber(Key.Connections, t.Connections);
        w.WriteNumber(Key.OpenConnections, t.OpenConnections);
        w.WriteNumber(Key.Connects, t.Connects);
        w.WriteNumber(Key.ConnectFails, t.ConnectFails);
        w.WriteNumber(Key.Resets, t.Resets);
        w.WriteNumber(Key.Retransmits, t.Retransmits);
        w.WriteEndObject();

        WriteArray(w, Key.Processes, TopModel.Processes(state), WriteProcess);
        WriteArray(w, Key.Connections, TopModel.Connections(state), WriteConnection);
        WriteArray(w, Key.Hosts, TopModel.Hosts(state), WriteHost);
        w.WriteEndObject();
    }

    /// <summary>An array of rows, passed on in pieces: a snapshot under churn is megabytes long.</summary>
    private static void WriteArray<TRow>(Utf8JsonWriter w, JsonEncodedText name, IEnumerable<TRow> rows,
        Action<Utf8JsonWriter, TRow> writeRow)
    {
        w.WriteStartArray(name);
        foreach (TRow row in rows)
        {
            writeRow(w, row);
            if (w.BytesPending > FlushBytes)
                w.Flush();
        }
        w.WriteEndArray();
    }

    private void WriteProcess(Utf8JsonWriter w, ProcessRow p)
    {
        ProcessTotals t = p.Totals;
        w.WriteStartObject();
        w.WriteNumber(Key.Pid, t.Pid);
        w.WriteNumber(Key.Ppid, t.Ppid);
        w.WriteNumber(Key.Uid, t.Uid);
        w.WriteString(Key.User, p.User);
        w.WriteString(Key.Comm, t.Comm);
        w.WriteString(Key.Cmdline, p.CommandLine);
        w.WriteBoolean(Key.Exited, t.Exited);
        WriteTime(w, Key.ExitTs, t.ExitNs);
        WriteTime(w, Key.FirstSeen, t.FirstNs);
        WriteTime(w, Key.LastSeen, t.LastNs);
        w.WriteNumber(Key.CgroupId, t.CgroupId);
        w.WriteNumber(Key.Sockets, p.Sockets);
        WriteRate(w, Key.TxRate, p.TxRate);
        WriteRate(w, Key.RxRate, p.RxRate);
        w.WriteNumber(Key.TxBytes, t.TxBytes);
        w.WriteNumber(Key.RxBytes, t.RxBytes);
        w.WriteNumber(Key.TxCalls, t.TxCalls);
        w.WriteNumber(Key.RxCalls, t.RxCalls);
        w.WriteNumber(Key.Connects, t.Connects);
        w.WriteNumber(Key.ConnectFails, t.ConnectFails);
        w.WriteNumber(Key.Resets, t.Resets);
        w.WriteNumber(Key.Retransmits, t.Retransmits);
        w.WriteEndObject();
    }

    private void WriteConnection(Utf8JsonWriter w, ConnectionRow c)
    {
        ConnectionTotals t = c.Totals;
        w.WriteStartObject();
        w.WriteNumber(Key.Cookie, t.Cookie);
        w.WriteString(Key.Proto, c.Proto);
        w.WriteString(Key.Family, FamilyName(t.Family));
        if (t.Family == Sock.AF_UNIX)
        {
            w.WriteNull(Key.Laddr);
            w.WriteNull(Key.Lport);
            w.WriteNull(Key.Raddr);
            w.WriteNull(Key.Rport);
        }
        else
        {
            w.WriteString(Key.Laddr, AddressText(t.LocalAddress));
            w.WriteNumber(Key.Lport, t.LocalPort);
            w.WriteString(Key.Raddr, AddressText(t.RemoteAddress));
            w.WriteNumber(Key.Rport, t.RemotePort);
        }
        w.WriteString(Key.State, c.State);
        if (t.OwnerPid != 0)
        {
            w.WriteNumber(Key.Pid, t.OwnerPid);
            w.WriteString(Key.Comm, t.OwnerComm);
            w.WriteNumber(Key.Uid, t.OwnerUid);
            w.WriteString(Key.User, c.OwnerUser);
        }
        else
        {
            w.WriteNull(Key.Pid);
            w.WriteNull(Key.Comm);
            w.WriteNull(Key.Uid);
            w.WriteNull(Key.User);
        }
        w.WriteNumber(Key.Inode, t.Inode);
        WriteRate(w, Key.TxRate, c.TxRate);
        WriteRate(w, Key.RxRate, c.RxRate);
        w.WriteNumber(Key.TxBytes, t.TxBytes);
        w.WriteNumber(Key.RxBytes, t.RxBytes);
        w.WriteNumber(Key.TxCalls, t.TxCalls);
        w.WriteNumber(Key.RxCalls, t.RxCalls);
        if (t.IsTcp)
            w.WriteNumber(Key.SrttUs, t.SrttUs);
        else
            w.WriteNull(Key.SrttUs);
        w.WriteNumber(Key.Retransmits, t.Retransmits);
        w.WriteNumber(Key.AgeS, Math.Round(c.AgeSeconds, 3));
        WriteTime(w, Key.FirstSeen, t.FirstNs);
        WriteTime(w, Key.LastSeen, t.LastNs);
        w.WriteBoolean(Key.Closed, t.Closed);
        w.WriteStartArray(Key.Flags);
        foreach ((TopConnFlags flag, JsonEncodedText name) in FlagNames)
        {
            if ((t.Flags & flag) != 0)
                w.WriteStringValue(name);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static readonly (TopConnFlags Flag, JsonEncodedText Name)[] FlagNames =
    [
        (TopConnFlags.Active, JsonEncodedText.Encode("active")),
        (TopConnFlags.Passive, JsonEncodedText.Encode("passive")),
        (TopConnFlags.Established, JsonEncodedText.Encode("established")),
        (TopConnFlags.Failed, JsonEncodedText.Encode("failed")),
        (TopConnFlags.RstRx, JsonEncodedText.Encode("rst_rx")),
        (TopConnFlags.RstTx, JsonEncodedText.Encode("rst_tx")),
        (TopConnFlags.Closed, JsonEncodedText.Encode("closed")),
    ];

    // The last addresses written, as encoded text: a frame's rows share a few addresses.
    private readonly System.Net.IPAddress?[] _addresses = new System.Net.IPAddress?[4];
    private readonly JsonEncodedText[] _addressTexts = new JsonEncodedText[4];
    private int _nextAddress;

    private JsonEncodedText AddressText(System.Net.IPAddress? address)
    {
        for (int i = 0; i < _addresses.Length; i++)
        {
            if (_addresses[i] is { } known && known.Equals(address))
                return _addressTexts[i];
        }
        var text = JsonEncodedText.Encode(Endpoints.Host(address));
        if (address is not null)
        {
            _addresses[_nextAddress] = address;
            _addressTexts[_nextAddress] = text;
            _nextAddress = (_nextAddress + 1) % _addresses.Length;
        }
        return text;
    }

    private static void WriteHost(Utf8JsonWriter w, HostRow h)
    {
        w.WriteStartObject();
        w.WriteString(Key.Raddr, h.Address);
        w.WriteNumber(Key.Connections, h.Connections);
        w.WriteNumber(Key.OpenConnections, h.OpenConnections);
        w.WriteStartArray(Key.Pids);
        foreach (int pid in h.Pids)
            w.WriteNumberValue(pid);
        w.WriteEndArray();
        w.WriteStartArray(Key.Comms);
        foreach (string comm in h.Comms)
            w.WriteStringValue(comm);
        w.WriteEndArray();
        WriteRate(w, Key.TxRate, h.TxRate);
        WriteRate(w, Key.RxRate, h.RxRate);
        w.WriteNumber(Key.TxBytes, h.TxBytes);
        w.WriteNumber(Key.RxBytes, h.RxBytes);
        w.WriteNumber(Key.Retransmits, h.Retransmits);
        w.WriteEndObject();
    }

    /// <summary>The property names, encoded once: a frame may hold tens of thousands of rows.</summary>
    private static class Key
    {
        public static readonly JsonEncodedText AgeS = JsonEncodedText.Encode("age_s");
        public static readonly JsonEncodedText CgroupId = JsonEncodedText.Encode("cgroup_id");
        public static readonly JsonEncodedText Closed = JsonEncodedText.Encode("closed");
        public static readonly JsonEncodedText Cmdline = JsonEncodedText.Encode("cmdline");
        public static readonly JsonEncodedText Comm = JsonEncodedText.Encode("comm");
        public static readonly JsonEncodedText Comms = JsonEncodedText.Encode("comms");
        public static readonly JsonEncodedText ConnectFails = JsonEncodedText.Encode("connect_fails");
        public static readonly JsonEncodedText Connections = JsonEncodedText.Encode("connections");
        public static readonly JsonEncodedText Connects = JsonEncodedText.Encode("connects");
        public static readonly JsonEncodedText Cookie = JsonEncodedText.Encode("cookie");
        public static readonly JsonEncodedText ExitTs = JsonEncodedText.Encode("exit_ts");
        public static readonly JsonEncodedText Exited = JsonEncodedText.Encode("exited");
        public static readonly JsonEncodedText ExitedProcesses = JsonEncodedText.Encode("exited_processes");
        public static readonly JsonEncodedText Family = JsonEncodedText.Encode("family");
        public static readonly JsonEncodedText FirstSeen = JsonEncodedText.Encode("first_seen");
        public static readonly JsonEncodedText Flags = JsonEncodedText.Encode("flags");
        public static readonly JsonEncodedText Hosts = JsonEncodedText.Encode("hosts");
        public static readonly JsonEncodedText Inode = JsonEncodedText.Encode("inode");
        public static readonly JsonEncodedText IntervalS = JsonEncodedText.Encode("interval_s");
        public static readonly JsonEncodedText Laddr = JsonEncodedText.Encode("laddr");
        public static readonly JsonEncodedText LastSeen = JsonEncodedText.Encode("last_seen");
        public static readonly JsonEncodedText Lport = JsonEncodedText.Encode("lport");
        public static readonly JsonEncodedText OpenConnections = JsonEncodedText.Encode("open_connections");
        public static readonly JsonEncodedText Pid = JsonEncodedText.Encode("pid");
        public static readonly JsonEncodedText Pids = JsonEncodedText.Encode("pids");
        public static readonly JsonEncodedText Ppid = JsonEncodedText.Encode("ppid");
        public static readonly JsonEncodedText Processes = JsonEncodedText.Encode("processes");
        public static readonly JsonEncodedText Proto = JsonEncodedText.Encode("proto");
        public static readonly JsonEncodedText Raddr = JsonEncodedText.Encode("raddr");
        public static readonly JsonEncodedText Resets = JsonEncodedText.Encode("resets");
        public static readonly JsonEncodedText Retransmits = JsonEncodedText.Encode("retransmits");
        public static readonly JsonEncodedText Rport = JsonEncodedText.Encode("rport");
        public static readonly JsonEncodedText RxBytes = JsonEncodedText.Encode("rx_bytes");
        public static readonly JsonEncodedText RxCalls = JsonEncodedText.Encode("rx_calls");
        public static readonly JsonEncodedText RxRate = JsonEncodedText.Encode("rx_rate");
        public static readonly JsonEncodedText Sockets = JsonEncodedText.Encode("sockets");
        public static readonly JsonEncodedText SrttUs = JsonEncodedText.Encode("srtt_us");
        public static readonly JsonEncodedText State = JsonEncodedText.Encode("state");
        public static readonly JsonEncodedText Totals = JsonEncodedText.Encode("totals");
        public static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts");
        public static readonly JsonEncodedText TsNs = JsonEncodedText.Encode("ts_ns");
        public static readonly JsonEncodedText TxBytes = JsonEncodedText.Encode("tx_bytes");
        public static readonly JsonEncodedText TxCalls = JsonEncodedText.Encode("tx_calls");
        public static readonly JsonEncodedText TxRate = JsonEncodedText.Encode("tx_rate");
        public static readonly JsonEncodedText Uid = JsonEncodedText.Encode("uid");
        public static readonly JsonEncodedText User = JsonEncodedText.Encode("user");
    }

    public static string FamilyName(ushort family) => family switch
    {
        Sock.AF_INET => "inet",
        Sock.AF_INET6 => "inet6",
        Sock.AF_UNIX => "unix",
        _ => family.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A monotonic timestamp as RFC 3339 wall-clock time; null for 0 (never).</summary>
    /// <summary>A rate to one decimal; written as an integer when it is one (the same text,
    /// without formatting a double: most rows of a busy frame are idle).</summary>
    private static void WriteRate(Utf8JsonWriter w, JsonEncodedText name, double rate)
    {
        double r = Math.Round(rate, 1);
        if (r >= 0 && r < 1e15 && r == Math.Floor(r))
            w.WriteNumber(name, (long)r);
        else
            w.WriteNumber(name, r);
    }

    private void WriteTime(Utf8JsonWriter w, JsonEncodedText name, ulong monotonicNs)
    {
        if (monotonicNs == 0)
        {
            w.WriteNull(name);
            return;
        }
        int n = EventFormatting.WriteRfc3339(_clock.ToUnixNs(monotonicNs), _ts);
        w.WriteString(name, _ts.AsSpan(0, n));
    }
}
