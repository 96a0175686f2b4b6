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
        WriteTime(w, "ts", frame.Snapshot.TakenNs);
        w.WriteNumber("ts_ns", _clock.ToUnixNs(frame.Snapshot.TakenNs));
        w.WriteNumber("interval_s", Math.Round(frame.IntervalSeconds, 6));

        TotalsRow t = frame.Totals;
        w.WriteStartObject("totals");
        w.WriteNumber("tx_bytes", t.TxBytes);
        w.WriteNumber("rx_bytes", t.RxBytes);
        w.WriteNumber("tx_rate", Math.Round(t.TxRate, 1));
        w.WriteNumber("rx_rate", Math.Round(t.RxRate, 1));
        w.WriteNumber("processes", t.Processes);
        w.WriteNumber("exited_processes", t.ExitedProcesses);
        w.WriteNumber("connections", t.Connections);
        w.WriteNumber("open_connections", t.OpenConnections);
        w.WriteNumber("connects", t.Connects);
        w.WriteNumber("connect_fails", t.ConnectFails);
        w.WriteNumber("resets", t.Resets);
        w.WriteNumber("retransmits", t.Retransmits);
        w.WriteEndObject();

        w.WriteStartArray("processes");
        foreach (ProcessRow p in TopModel.Processes(state))
            WriteProcess(w, p);
        w.WriteEndArray();

        w.WriteStartArray("connections");
        foreach (ConnectionRow c in TopModel.Connections(state))
            WriteConnection(w, c);
        w.WriteEndArray();

        w.WriteStartArray("hosts");
        foreach (HostRow h in TopModel.Hosts(state))
            WriteHost(w, h);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteProcess(Utf8JsonWriter w, ProcessRow p)
    {
        ProcessTotals t = p.Totals;
        w.WriteStartObject();
        w.WriteNumber("pid", t.Pid);
        w.WriteNumber("ppid", t.Ppid);
        w.WriteNumber("uid", t.Uid);
        w.WriteString("user", p.User);
        w.WriteString("comm", t.Comm);
        w.WriteString("cmdline", p.CommandLine);
        w.WriteBoolean("exited", t.Exited);
        WriteTime(w, "exit_ts", t.ExitNs);
        WriteTime(w, "first_seen", t.FirstNs);
        WriteTime(w, "last_seen", t.LastNs);
        w.WriteNumber("cgroup_id", t.CgroupId);
        w.WriteNumber("sockets", p.Sockets);
        w.WriteNumber("tx_rate", Math.Round(p.TxRate, 1));
        w.WriteNumber("rx_rate", Math.Round(p.RxRate, 1));
        w.WriteNumber("tx_bytes", t.TxBytes);
        w.WriteNumber("rx_bytes", t.RxBytes);
        w.WriteNumber("tx_calls", t.TxCalls);
        w.WriteNumber("rx_calls", t.RxCalls);
        w.WriteNumber("connects", t.Connects);
        w.WriteNumber("connect_fails", t.ConnectFails);
        w.WriteNumber("resets", t.Resets);
        w.WriteNumber("retransmits", t.Retransmits);
        w.WriteEndObject();
    }

    private void WriteConnection(Utf8JsonWriter w, ConnectionRow c)
    {
        ConnectionTotals t = c.Totals;
        w.WriteStartObject();
        w.WriteNumber("cookie", t.Cookie);
        w.WriteString("proto", c.Proto);
        w.WriteString("family", FamilyName(t.Family));
        if (t.Family == Sock.AF_UNIX)
        {
            w.WriteNull("laddr");
            w.WriteNull("lport");
            w.WriteNull("raddr");
            w.WriteNull("rport");
        }
        else
        {
            w.WriteString("laddr", Endpoints.Host(t.LocalAddress));
            w.WriteNumber("lport", t.LocalPort);
            w.WriteString("raddr", Endpoints.Host(t.RemoteAddress));
            w.WriteNumber("rport", t.RemotePort);
        }
        w.WriteString("state", c.State);
        if (t.OwnerPid != 0)
        {
            w.WriteNumber("pid", t.OwnerPid);
            w.WriteString("comm", t.OwnerComm);
            w.WriteNumber("uid", t.OwnerUid);
            w.WriteString("user", c.OwnerUser);
        }
        else
        {
            w.WriteNull("pid");
            w.WriteNull("comm");
            w.WriteNull("uid");
            w.WriteNull("user");
        }
        w.WriteNumber("inode", t.Inode);
        w.WriteNumber("tx_rate", Math.Round(c.TxRate, 1));
        w.WriteNumber("rx_rate", Math.Round(c.RxRate, 1));
        w.WriteNumber("tx_bytes", t.TxBytes);
        w.WriteNumber("rx_bytes", t.RxBytes);
        w.WriteNumber("tx_calls", t.TxCalls);
        w.WriteNumber("rx_calls", t.RxCalls);
        if (t.IsTcp)
            w.WriteNumber("srtt_us", t.SrttUs);
        else
            w.WriteNull("srtt_us");
        w.WriteNumber("retransmits", t.Retransmits);
        w.WriteNumber("age_s", Math.Round(c.AgeSeconds, 3));
        WriteTime(w, "first_seen", t.FirstNs);
        WriteTime(w, "last_seen", t.LastNs);
        w.WriteBoolean("closed", t.Closed);
        w.WriteStartArray("flags");
        foreach ((TopConnFlags flag, string name) in FlagNames)
        {
            if ((t.Flags & flag) != 0)
                w.WriteStringValue(name);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static readonly (TopConnFlags Flag, string Name)[] FlagNames =
    [
        (TopConnFlags.Active, "active"),
        (TopConnFlags.Passive, "passive"),
        (TopConnFlags.Established, "established"),
        (TopConnFlags.Failed, "failed"),
        (TopConnFlags.RstRx, "rst_rx"),
        (TopConnFlags.RstTx, "rst_tx"),
        (TopConnFlags.Closed, "closed"),
    ];

    private static void WriteHost(Utf8JsonWriter w, HostRow h)
    {
        w.WriteStartObject();
        w.WriteString("raddr", h.Address);
        w.WriteNumber("connections", h.Connections);
        w.WriteNumber("open_connections", h.OpenConnections);
        w.WriteStartArray("pids");
        foreach (int pid in h.Pids)
            w.WriteNumberValue(pid);
        w.WriteEndArray();
        w.WriteStartArray("comms");
        foreach (string comm in h.Comms)
            w.WriteStringValue(comm);
        w.WriteEndArray();
        w.WriteNumber("tx_rate", Math.Round(h.TxRate, 1));
        w.WriteNumber("rx_rate", Math.Round(h.RxRate, 1));
        w.WriteNumber("tx_bytes", h.TxBytes);
        w.WriteNumber("rx_bytes", h.RxBytes);
        w.WriteNumber("retransmits", h.Retransmits);
        w.WriteEndObject();
    }

    public static string FamilyName(ushort family) => family switch
    {
        Sock.AF_INET => "inet",
        Sock.AF_INET6 => "inet6",
        Sock.AF_UNIX => "unix",
        _ => family.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A monotonic timestamp as RFC 3339 wall-clock time; null for 0 (never).</summary>
    private void WriteTime(Utf8JsonWriter w, string name, ulong monotonicNs)
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
