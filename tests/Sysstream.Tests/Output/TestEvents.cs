using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Tests.Output;

/// <summary>Builds event records in memory as the kernel side fills them.</summary>
internal static unsafe class TestEvents
{
    /// <summary>Monotonic time of the first test event.</summary>
    public const ulong T0 = 5_000_000_000UL;

    /// <summary>Wall clock of <see cref="T0"/>: 2026-11-28T01:02:03.123456789Z.</summary>
    public static readonly long WallT0 =
        new DateTimeOffset(2026, 11, 28, 1, 2, 3, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000L + 123_456_789L;

    public static EventClock Clock() => new(WallT0 - (long)T0);

    public static SyscallEvent Event(Func func, Phase phase, ulong ts = T0, int fd = 3, long ret = 0,
        string comm = "wget", string pcomm = "sudo")
    {
        var ev = new SyscallEvent
        {
            Type = (ushort)EventType.Syscall,
            Phase = (byte)phase,
            Func = (byte)func,
            Cpu = 1,
            TsNs = ts,
            CgroupId = 4242,
            Ret = ret,
            Pid = 18423,
            Tid = 18423,
            Ppid = 18422,
            Uid = 0,
            Gid = 0,
            Fd = fd,
            Netns = 4026531840,
        };
        SetText(MemoryMarshal.CreateSpan(ref ev.Comm[0], 16), comm);
        SetText(MemoryMarshal.CreateSpan(ref ev.Pcomm[0], 16), pcomm);
        return ev;
    }

    /// <summary>A kernel socket's facts: addresses as the kernel side stores them.</summary>
    public static void Socket(ref SyscallEvent ev, ushort family, ushort type, ushort protocol,
        string? laddr = null, ushort lport = 0, string? raddr = null, ushort rport = 0,
        ulong cookie = 0, byte state = 0)
    {
        ev.Flags |= (uint)EventFlags.Sock;
        ev.Sk.Family = family;
        ev.Sk.Type = type;
        ev.Sk.Protocol = protocol;
        ev.Sk.Cookie = cookie;
        ev.Sk.State = state;
        Address(MemoryMarshal.CreateSpan(ref ev.Sk.Laddr[0], 16), laddr ?? (family == Sock.AF_INET ? "0.0.0.0" : "::"));
        Address(MemoryMarshal.CreateSpan(ref ev.Sk.Raddr[0], 16), raddr ?? (family == Sock.AF_INET ? "0.0.0.0" : "::"));
        ev.Sk.Lport = lport;
        ev.Sk.Rport = rport;
    }

    /// <summary>IPv4 as ::ffff:a.b.c.d, as the kernel side stores it.</summary>
    public static void Address(Span<byte> dest, string address)
    {
        var ip = IPAddress.Parse(address);
        if (ip.AddressFamily == AddressFamily.InterNetwork)
            ip = ip.MapToIPv6();
        ip.TryWriteBytes(dest, out _);
    }

    public static UnixPaths Paths(string? local, string? remote)
    {
        var p = new UnixPaths();
        if (local != null)
            SetText(MemoryMarshal.CreateSpan(ref p.Local[0], UnixPaths.PathLength), local);
        if (remote != null)
            SetText(MemoryMarshal.CreateSpan(ref p.Remote[0], UnixPaths.PathLength), remote);
        return p;
    }

    /// <summary>Copies text; "\0" in it stays a NUL byte (abstract unix names).</summary>
    public static void SetText(Span<byte> dest, string text)
    {
        dest.Clear();
        Encoding.UTF8.GetBytes(text).AsSpan(0, Math.Min(dest.Length, Encoding.UTF8.GetByteCount(text))).CopyTo(dest);
    }

    public static void SetRaw(ref SyscallEvent ev, ReadOnlySpan<byte> comm)
    {
        var span = MemoryMarshal.CreateSpan(ref ev.Comm[0], 16);
        span.Clear();
        comm.CopyTo(span);
    }

    public static LostEvent Lost(ulong ts, uint cpu, ulong count) =>
        new() { Type = (ushort)EventType.Lost, Cpu = cpu, TsNs = ts, Count = count };

    public static string Table(Action<TableEventWriter> write, bool header = false)
    {
        var ms = new MemoryStream();
        var w = new TableEventWriter(ms, Clock(), header);
        write(w);
        w.Flush();
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static string Json(Action<JsonEventWriter> write)
    {
        var ms = new MemoryStream();
        using var w = new JsonEventWriter(ms, Clock());
        write(w);
        w.Flush();
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
