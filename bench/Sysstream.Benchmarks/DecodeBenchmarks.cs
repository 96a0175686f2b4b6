using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Benchmarks;

/// <summary>
/// The per-event cost of the user-space path as the reader runs it: walk ring-buffer records,
/// decode each in place (<see cref="RecordDecoder"/>) into the <see cref="ReorderBuffer"/>, release
/// them in order to a sink (nothing, JSON, table). Results are per event (OperationsPerInvoke);
/// Allocated must stay 0 B. Two mixes: <c>mixed</c> (data calls, connects, accepts, errors, IPv6
/// UDP, unix sockets) and <c>http</c> (what nginx + wrk keep-alive makes: reads and writes on
/// established TCP connections over 127.0.0.1, the benchmark suite's main workload).
/// </summary>
[MemoryDiagnoser]
public unsafe class DecodeBenchmarks
{
    [Params("mixed", "http")]
    public string Mix { get; set; } = "mixed";

    private const int Records = 1000;

    // BPF_RINGBUF_HDR_SZ: each record is preceded by its length and page offset, and padded to 8.
    private const int RecordHeader = 8;

    private byte[] _ring = [];
    private ReorderBuffer _reorder = null!;
    private RecordDecoder _decoder = null!;
    private NullSink _null = null!;
    private JsonEventWriter _json = null!;
    private TableEventWriter _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ring = Mix == "http" ? BuildHttpRing() : BuildRing();
        _reorder = new ReorderBuffer(2 * Records);
        _decoder = new RecordDecoder(_reorder, cpus: 2);
        var clock = new EventClock(1_795_000_000_000_000_000L);
        _null = new NullSink();
        _json = new JsonEventWriter(Stream.Null, clock);
        _table = new TableEventWriter(Stream.Null, clock, writeHeader: false);
    }

    [GlobalCleanup]
    public void Cleanup() => _json.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public int Decode() => Walk(_ring, _null);

    [Benchmark(OperationsPerInvoke = Records)]
    public int DecodeToJson()
    {
        int n = Walk(_ring, _json);
        _json.Flush();
        return n;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int DecodeToTable()
    {
        int n = Walk(_ring, _table);
        _table.Flush();
        return n;
    }

    /// <summary>Walks records as they sit in ring-buffer memory, decodes them, and releases them in order.</summary>
    private int Walk(ReadOnlySpan<byte> ring, IEventSink sink)
    {
        int count = 0;
        while (ring.Length >= RecordHeader)
        {
            int len = (int)MemoryMarshal.Read<uint>(ring);
            if (len < sizeof(ushort) || len > ring.Length - RecordHeader)
                break;
            _decoder.Decode(ring.Slice(RecordHeader, len));
            count++;
            ring = ring[Math.Min(ring.Length, RecordHeader + ((len + 7) & ~7))..];
        }
        _reorder.ReleaseAll(sink);
        return count;
    }

    // ------------------------------------------------------------------ the prepared ring

    private static byte[] BuildRing()
    {
        var ring = new List<byte>();
        ulong ts = 1_000_000_000;
        for (int i = 0; i < Records; i++)
        {
            ts += 1_700;
            if (i == Records / 2)
            {
                var lost = new LostEvent { Type = (ushort)EventType.Lost, Cpu = 1, TsNs = ts, Count = 12 };
                Append(ring, lost);
                continue;
            }
            if (i % 10 == 9)
            {
                var unix = new SyscallEventUnix { Ev = Syscall(i, ts) };
                unix.Ev.Type = (ushort)EventType.SyscallUnix;
                unix.Ev.Sk.Family = Sock.AF_UNIX;
                unix.Ev.Sk.Type = 1;
                unix.Ev.Sk.Protocol = 0;
                unix.Ev.Sk.Lport = unix.Ev.Sk.Rport = 0;
                Text(MemoryMarshal.CreateSpan(ref unix.Paths.Local[0], UnixPaths.PathLength), "/run/app/listener.sock");
                Text(MemoryMarshal.CreateSpan(ref unix.Paths.Remote[0], UnixPaths.PathLength), "\0client-abstract");
                Append(ring, unix);
                continue;
            }
            Append(ring, Syscall(i, ts));
        }
        return ring.ToArray();
    }

    /// <summary>nginx + wrk keep-alive: per request the client writes and reads, the server
    /// receives and writes back, each an entry and an exit, on 16 connections.</summary>
    private static byte[] BuildHttpRing()
    {
        var ring = new List<byte>();
        ulong ts = 1_000_000_000;
        for (int i = 0; i < Records; i++)
        {
            ts += 1_100;
            int call = i / 2 % 4, conn = i / 8 % 16;
            bool server = call is 1 or 2;
            var ev = Syscall(0, ts);
            ev.Phase = (byte)(i % 2);
            ev.Cpu = (uint)(server ? 0 : 1);
            ev.Pid = ev.Tid = server ? 2201u : 2300u;
            ev.Ppid = server ? 2200u : 1990u;
            ev.Fd = 10 + conn;
            ev.Sk.Cookie = 9000 + (ulong)conn;
            ev.Sk.Lport = server ? (ushort)8080 : (ushort)(41000 + conn);
            ev.Sk.Rport = server ? (ushort)(41000 + conn) : (ushort)8080;
            ev.Flags = (uint)(EventFlags.Sock | EventFlags.Seq);
            ev.Sk.Seq = 7_000_000u + (uint)i * 97;
            ev.Arg = 0;
            (ev.Func, ev.ReqBytes, long moved) = call switch
            {
                0 => ((byte)Func.Write, 40UL, 40L),        // wrk sends the request
                1 => ((byte)Func.Recvfrom, 1024UL, 40L),   // nginx receives it
                2 => ((byte)Func.Writev, 850UL, 850L),     // nginx answers, headers + body
                _ => ((byte)Func.Read, 8192UL, 850L),      // wrk reads the answer
            };
            ev.Ret = ev.Phase == 1 ? moved : 0;
            ev.DurationNs = ev.Phase == 1 ? 2_300UL : 0;
            Text(MemoryMarshal.CreateSpan(ref ev.Comm[0], 16), server ? "nginx" : "wrk");
            Text(MemoryMarshal.CreateSpan(ref ev.Pcomm[0], 16), server ? "nginx" : "bash");
            Append(ring, ev);
        }
        return ring.ToArray();
    }

    // A mix like a busy HTTP client and server: data calls, connects, accepts, EAGAINs, IPv6 UDP.
    private static SyscallEvent Syscall(int i, ulong ts)
    {
        var kind = i % 8;
        var ev = new SyscallEvent
        {
            Type = (ushort)EventType.Syscall,
            Phase = (byte)(i % 2),
            Cpu = (uint)(i % 2),
            TsNs = ts,
            DurationNs = (ulong)(i % 2 == 1 ? 3_400 + i : 0),
            CgroupId = 7411,
            Pid = 18423,
            Tid = 18424,
            Ppid = 18422,
            Uid = 1000,
            Gid = 1000,
            Fd = 7,
            Netns = 4026531840,
            Flags = (uint)EventFlags.Sock,
        };
        ev.Sk.Cookie = 40_000 + (ulong)(i / 8);
        ev.Sk.Family = Sock.AF_INET;
        ev.Sk.Type = 1;
        ev.Sk.Protocol = Sock.IPPROTO_TCP;
        ev.Sk.State = 1;
        ev.Sk.Lport = 57032;
        ev.Sk.Rport = 80;
        Address(MemoryMarshal.CreateSpan(ref ev.Sk.Laddr[0], 16), "127.0.0.1");
        Address(MemoryMarshal.CreateSpan(ref ev.Sk.Raddr[0], 16), "127.0.0.1");
        Text(MemoryMarshal.CreateSpan(ref ev.Comm[0], 16), i % 3 == 0 ? "nginx" : "wget");
        Text(MemoryMarshal.CreateSpan(ref ev.Pcomm[0], 16), "bash");

        switch (kind)
        {
            case 0 or 1:
                ev.Func = (byte)Func.Write;
                ev.ReqBytes = 146;
                ev.Ret = ev.Phase == 1 ? 146 : 0;
                ev.Flags |= (uint)EventFlags.Seq;
                ev.Sk.Seq = 1_000_000u + (uint)i;
                break;
            case 2 or 3:
                ev.Func = (byte)Func.Recvfrom;
                ev.ReqBytes = 65536;
                ev.Ret = ev.Phase == 1 ? (i % 16 == 3 ? -11 : 4096) : 0;
                ev.Flags |= (uint)EventFlags.Seq;
                break;
            case 4 or 5:
                ev.Func = (byte)Func.Connect;
                ev.Ret = ev.Phase == 1 ? (i % 24 == 5 ? -111 : 0) : 0;
                ev.Flags |= (uint)EventFlags.PeerFromArgs;
                break;
            case 6:
                ev.Func = (byte)Func.Sendto;
                ev.Sk.Family = Sock.AF_INET6;
                ev.Sk.Type = 2;
                ev.Sk.Protocol = Sock.IPPROTO_UDP;
                ev.Sk.State = 7;
                ev.Sk.Rport = 53;
                Address(MemoryMarshal.CreateSpan(ref ev.Sk.Laddr[0], 16), "::1");
                Address(MemoryMarshal.CreateSpan(ref ev.Sk.Raddr[0], 16), "2001:db8::53");
                ev.ReqBytes = 40;
                ev.Flags |= (uint)EventFlags.PeerFromArgs;
                break;
            default:
                ev.Func = (byte)Func.Accept4;
                ev.Ret = 9;
                ev.Arg = 0x80800;
                break;
        }
        return ev;
    }

    private static void Append<T>(List<byte> ring, T record) where T : unmanaged
    {
        int len = Unsafe.SizeOf<T>();
        Span<byte> header = stackalloc byte[RecordHeader];
        MemoryMarshal.Write(header, (uint)len);
        MemoryMarshal.Write(header[4..], 0u);
        ring.AddRange(header);
        var bytes = new byte[(len + 7) & ~7];
        MemoryMarshal.Write(bytes, in record);
        ring.AddRange(bytes);
    }

    private static void Address(Span<byte> dest, string text)
    {
        var ip = IPAddress.Parse(text);
        if (ip.AddressFamily == AddressFamily.InterNetwork)
            ip = ip.MapToIPv6();
        ip.TryWriteBytes(dest, out _);
    }

    private static void Text(Span<byte> dest, string text)
    {
        dest.Clear();
        Encoding.UTF8.GetBytes(text, dest);
    }

    /// <summary>Touches what a sink would read, so the walk is not optimised away.</summary>
    private sealed class NullSink : IEventSink
    {
        public ulong Sum;

        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths) =>
            Sum += ev.TsNs + ev.Sk.Lport + (hasUnixPaths ? unixPaths.LocalBytes[0] : 0u);

        public void OnLost(in LostEvent lost) => Sum += lost.Count;

        public void Flush()
        {
        }
    }
}
