using System.Globalization;
using System.Text;
using System.Text.Json;
using Sysstream.Events;
using Sysstream.Output;
using Sysstream.Sockets;
using Sysstream.Top.Batch;
using Sysstream.Top.View;

namespace Sysstream.Top.Netstat;

/// <summary>netstat's table (aligned text) and JSON (one object per snapshot, on one line).</summary>
public static class NetstatWriter
{
    private static readonly string[] Headers = ["PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "REMOTE", "USER", "TX", "RX", "AGE", "PID/COMM(FD)"];
    private static readonly bool[] Right = [false, false, true, true, false, false, false, true, true, true, false];

    /// <summary>The table as lines; TX/RX/AGE only when traffic was counted.</summary>
    public static IReadOnlyList<string> Table(IReadOnlyList<NetstatRow> rows, Func<uint, string> users, bool traffic)
    {
        var cells = rows.Select(r => new[]
        {
            r.Socket.Proto + (r.Socket.Family == Sock.AF_INET6 ? "6" : ""),
            r.State,
            r.Socket.IsUnix ? "-" : r.Socket.RecvQueue.ToString(CultureInfo.InvariantCulture),
            r.Socket.IsUnix ? "-" : r.Socket.SendQueue.ToString(CultureInfo.InvariantCulture),
            TableLayout.Sanitize(r.Local),
            r.Remote,
            r.User(users),
            r.Traffic is { } t ? Units.Bytes(t.Totals.TxBytes) : "",
            r.Traffic is { } u ? Units.Bytes(u.Totals.RxBytes) : "",
            r.Traffic is { } v ? Units.Age(v.AgeSeconds) : "",
            TableLayout.Sanitize(NetstatRow.Owners(r.Entry.Owners)),
        }).ToList();
        int[] shown = traffic ? Enumerable.Range(0, Headers.Length).ToArray() : [0, 1, 2, 3, 4, 5, 6, 10];
        int[] widths = new int[Headers.Length];
        foreach (int i in shown)
            widths[i] = Math.Max(Headers[i].Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length));
        var lines = new List<string>(rows.Count + 1) { Line(Headers, shown, widths) };
        foreach (string[] c in cells)
            lines.Add(Line(c, shown, widths));
        return lines;
    }

    private static string Line(string[] cells, int[] shown, int[] widths)
    {
        var sb = new StringBuilder();
        foreach (int i in shown)
        {
            if (sb.Length > 0)
                sb.Append("  ");
            bool last = i == shown[^1];
            sb.Append(last ? cells[i] : Right[i] ? cells[i].PadLeft(widths[i]) : cells[i].PadRight(widths[i]));
        }
        return sb.ToString().TrimEnd();
    }

    public static void Json(Stream output, IReadOnlyList<NetstatRow> rows, Func<uint, string> users, EventClock clock, long unixNs)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            byte[] ts = new byte[40];
            w.WriteStartObject();
            int n = EventFormatting.WriteRfc3339(unixNs, ts);
            w.WriteString("ts", ts.AsSpan(0, n));
            w.WriteNumber("ts_ns", unixNs);
            w.WriteStartArray("sockets");
            foreach (NetstatRow r in rows)
                WriteRow(w, r, users);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    private static void WriteRow(Utf8JsonWriter w, NetstatRow r, Func<uint, string> users)
    {
        NetSocket s = r.Socket;
        w.WriteStartObject();
        w.WriteString("proto", s.Proto);
        w.WriteString("family", TopJsonWriter.FamilyName(s.Family));
        w.WriteString("state", r.State);
        w.WriteBoolean("listening", s.Listening);
        if (s.IsUnix)
        {
            w.WriteString("type", ProcNet.UnixType(s.SocketType));
            w.WriteString("path", s.Path);
            w.WriteNull("laddr");
            w.WriteNull("lport");
            w.WriteNull("raddr");
            w.WriteNull("rport");
            w.WriteNull("recv_q");
            w.WriteNull("send_q");
        }
        else
        {
            w.WriteString("type", s.IsTcp ? "stream" : "dgram");
            w.WriteNull("path");
            w.WriteString("laddr", Aggregation.Endpoints.Host(s.LocalAddress));
            w.WriteNumber("lport", s.LocalPort);
            w.WriteString("raddr", Aggregation.Endpoints.Host(s.RemoteAddress));
            w.WriteNumber("rport", s.RemotePort);
            w.WriteNumber("recv_q", s.RecvQueue);
            w.WriteNumber("send_q", s.SendQueue);
        }
        w.WriteNumber("inode", s.Inode);
        w.WriteNumber("netns", s.Netns);
        if (s.Uid is uint uid)
            w.WriteNumber("uid", uid);
        else
            w.WriteNull("uid");
        w.WriteString("user", r.User(users));
        w.WriteStartArray("owners");
        foreach (SocketOwner o in r.Entry.Owners)
            WriteOwner(w, o);
        w.WriteEndArray();
        if (r.Entry.PeerInode is ulong peer)
        {
            w.WriteStartObject("peer");
            w.WriteNumber("inode", peer);
            w.WriteStartArray("owners");
            foreach (SocketOwner o in r.Entry.PeerOwners)
                WriteOwner(w, o);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("peer");
        }
        if (r.Traffic is { } t)
        {
            w.WriteNumber("tx_bytes", t.Totals.TxBytes);
            w.WriteNumber("rx_bytes", t.Totals.RxBytes);
            w.WriteNumber("age_s", Math.Round(t.AgeSeconds, 3));
            w.WriteNumber("cookie", t.Totals.Cookie);
        }
        else
        {
            w.WriteNull("tx_bytes");
            w.WriteNull("rx_bytes");
            w.WriteNull("age_s");
            w.WriteNull("cookie");
        }
        w.WriteEndObject();
    }

    private static void WriteOwner(Utf8JsonWriter w, SocketOwner o)
    {
        w.WriteStartObject();
        w.WriteNumber("pid", o.Pid);
        w.WriteString("comm", o.Comm);
        w.WriteNumber("uid", o.Uid);
        w.WriteString("user", o.User);
        w.WriteNumber("fd", o.Fd);
        w.WriteEndObject();
    }
}
