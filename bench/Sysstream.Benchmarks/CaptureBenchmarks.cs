using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Sysstream.Bpf;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Proc;

namespace Sysstream.Benchmarks;

/// <summary>
/// The per-record cost of `sysstream capture` in user space: the <see cref="CaptureRecorder"/>
/// fed what nginx + wrk keep-alive make over 127.0.0.1, two rings drained one after the other
/// as the reader does (the tracer's, then the capture's), then released after the 100 ms window
/// into a pcapng writer on a null stream. Per request: 8 system call records (wrk write and read,
/// nginx recvfrom and writev, each entry and exit) and 4 packet records (request and answer,
/// each seen leaving one socket and reaching the other: one loopback pair per packet, written as
/// one packet with both processes), 64 bytes of each kept. Results are per ring record
/// (OperationsPerInvoke); Allocated must stay 0 B. The window holds about 40 batches, so the
/// steady state has ~120,000 records waiting, as a busy capture does.
/// </summary>
[MemoryDiagnoser]
public unsafe class CaptureBenchmarks
{
    private const int Requests = 256;
    private const int TraceRecords = Requests * 8;
    private const int PacketRecords = Requests * 4;
    private const int Records = TraceRecords + PacketRecords;
    private const ulong RequestNs = 10_000;          // 100k requests/s
    private const ulong WindowNs = 100_000_000;
    private const int SnapLength = 64;
    private const uint Netns = 4026531840;

    private byte[][] _trace = [];
    private byte[][] _packets = [];
    private ulong[] _traceTs = [];
    private ulong[] _packetTs = [];
    private CaptureRecorder _recorder = null!;
    private ulong _base, _now;
    private int _batch;
    private static readonly int PacketHeader = Unsafe.SizeOf<PacketEvent>();
    private string _root = "";

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("sysstream-capture-bench-").FullName;
        Directory.CreateDirectory(Path.Combine(_root, "proc"));
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\n");
        File.WriteAllText(Path.Combine(_root, "etc/group"), "root:x:0:\nwww-data:x:33:\n");
        Directory.CreateDirectory(Path.Combine(_root, "sys/class/net/lo"));
        File.WriteAllText(Path.Combine(_root, "sys/class/net/lo/ifindex"), "1\n");

        var clock = new EventClock(1_795_000_000_000_000_000L);
        var writer = new PcapngWriter(Stream.Null);
        CaptureFile.Begin(writer, clock, new CaptureDescription { Hostname = "bench", SnapLength = SnapLength });
        var contexts = new ProcessContexts(new ProcessTable(_root));
        var interfaces = new InterfaceTable(writer, SnapLength, Netns, _root);
        _recorder = new CaptureRecorder(writer, clock, contexts, interfaces, NoOwner, new RecorderSettings
        {
            TraceRing = 0,
            CaptureRing = 1,
            WindowNs = WindowNs,
        }, () => _now);
        Build();
        _base = 1_000_000_000;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        int held = _recorder.Pending;
        Console.WriteLine($"// capture: {held} records held, {before / 1024} KiB managed heap, "
            + $"{_recorder.Counters.Packets} packets ({_recorder.Counters.LocalMerged} pairs merged), {_recorder.Counters.Syscalls} system calls, {_recorder.Counters.Late} late");
        Directory.Delete(_root, recursive: true);
    }

    private static bool NoOwner(ulong cookie, out SockOwner owner)
    {
        owner = default;
        return false;
    }

    /// <summary>One drain of both rings (a batch of requests), then the release of what left the window.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public int Record()
    {
        ulong b = _base;
        for (int i = 0; i < _trace.Length; i++)
        {
            byte[] r = _trace[i];
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), b + _traceTs[i]);
            _recorder.OnRecord(0, r);
        }
        // Each batch's packets get their own IP ids: a sending and its delivery stay equal,
        // and no packet repeats another's bytes while they are held.
        int batch = _batch++;
        for (int i = 0; i < _packets.Length; i++)
        {
            byte[] r = _packets[i];
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), b + _packetTs[i]);
            BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(PacketHeader + 4), (ushort)(batch * Requests * 2 + i / 2));
            _recorder.OnRecord(1, r);
        }
        _base = b + Requests * RequestNs;
        _now = _base + 50_000;
        _recorder.OnDrained();
        return _recorder.Pending;
    }

    // ------------------------------------------------------------------ the prepared records

    private void Build()
    {
        var trace = new List<(ulong, byte[])>();
        var packets = new List<(ulong, byte[])>();
        SockOwner wrk = Owner(2300, 2300, "wrk", "bash", 1990, uid: 0);
        SockOwner nginx = Owner(2201, 2201, "nginx", "nginx", 2200, uid: 33);
        for (int q = 0; q < Requests; q++)
        {
            int conn = q % 16;
            ulong t = (ulong)q * RequestNs;
            ushort port = (ushort)(41000 + conn);
            uint seq = 7_000_000u + (uint)q * 40;
            uint ack = 9_000_000u + (uint)q * 850;
            byte[] request = Tcp4(port, 8080, seq, ack, 40, (ushort)q);
            byte[] answer = Tcp4(8080, port, ack, seq + 40, 850, (ushort)(q + 7));
            // wrk writes the request: the entry, the packet leaving and reaching nginx's socket, the exit
            trace.Add((t, Syscall(Func.Write, 0, t, wrk, conn, client: true, 40)));
            packets.Add((t + 1_000, Packet(t + 1_000, egress: true, 9000 + (ulong)conn, request, wrk with { Fd = 10 + conn, Func = (byte)Func.Write })));
            packets.Add((t + 1_400, Packet(t + 1_400, egress: false, 9100 + (ulong)conn, request, nginx with { Fd = 20 + conn, Func = (byte)Func.Recvfrom })));
            trace.Add((t + 1_800, Syscall(Func.Write, 1, t + 1_800, wrk, conn, client: true, 40)));
            // nginx receives it and answers
            trace.Add((t + 2_500, Syscall(Func.Recvfrom, 0, t + 2_500, nginx, conn, client: false, 40)));
            trace.Add((t + 3_000, Syscall(Func.Recvfrom, 1, t + 3_000, nginx, conn, client: false, 40)));
            trace.Add((t + 4_000, Syscall(Func.Writev, 0, t + 4_000, nginx, conn, client: false, 850)));
            packets.Add((t + 4_600, Packet(t + 4_600, egress: true, 9100 + (ulong)conn, answer, nginx with { Fd = 20 + conn, Func = (byte)Func.Writev })));
            packets.Add((t + 5_000, Packet(t + 5_000, egress: false, 9000 + (ulong)conn, answer, wrk with { Fd = 10 + conn, Func = (byte)Func.Read })));
            trace.Add((t + 5_400, Syscall(Func.Writev, 1, t + 5_400, nginx, conn, client: false, 850)));
            // wrk reads the answer
            trace.Add((t + 6_000, Syscall(Func.Read, 0, t + 6_000, wrk, conn, client: true, 850)));
            trace.Add((t + 6_500, Syscall(Func.Read, 1, t + 6_500, wrk, conn, client: true, 850)));
        }
        _trace = trace.Select(x => x.Item2).ToArray();
        _traceTs = trace.Select(x => x.Item1).ToArray();
        _packets = packets.Select(x => x.Item2).ToArray();
        _packetTs = packets.Select(x => x.Item1).ToArray();
    }

    private static SockOwner Owner(uint pid, uint tid, string comm, string pcomm, uint ppid, uint uid)
    {
        var o = new SockOwner
        {
            Pid = pid,
            Tid = tid,
            Ppid = ppid,
            Uid = uid,
            Gid = uid,
            Netns = Netns,
            CgroupId = 7411,
            StartNs = 5_000_000_000,
            Matched = 1,
        };
        Text(MemoryMarshal.CreateSpan(ref o.Comm[0], 16), comm);
        Text(MemoryMarshal.CreateSpan(ref o.Pcomm[0], 16), pcomm);
        return o;
    }

    private static byte[] Syscall(Func func, byte phase, ulong ts, SockOwner o, int conn, bool client, long bytes)
    {
        var ev = new SyscallEvent
        {
            Type = (ushort)EventType.Syscall,
            Phase = phase,
            Func = (byte)func,
            Cpu = client ? 1u : 0u,
            TsNs = ts,
            DurationNs = phase == 1 ? 1_800UL : 0,
            CgroupId = o.CgroupId,
            Ret = phase == 1 ? bytes : 0,
            ReqBytes = (ulong)bytes,
            Pid = o.Pid,
            Tid = o.Tid,
            Ppid = o.Ppid,
            Uid = o.Uid,
            Gid = o.Gid,
            Fd = client ? 10 + conn : 20 + conn,
            Netns = o.Netns,
            Flags = (uint)(EventFlags.Sock | EventFlags.Seq),
        };
        ev.Sk.Cookie = (client ? 9000UL : 9100UL) + (ulong)conn;
        ev.Sk.Family = Sock.AF_INET;
        ev.Sk.Type = 1;
        ev.Sk.Protocol = Sock.IPPROTO_TCP;
        ev.Sk.State = 1;
        ev.Sk.Lport = client ? (ushort)(41000 + conn) : (ushort)8080;
        ev.Sk.Rport = client ? (ushort)8080 : (ushort)(41000 + conn);
        Span<byte> lo = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
        lo.CopyTo(MemoryMarshal.CreateSpan(ref ev.Sk.Laddr[0], 16));
        lo.CopyTo(MemoryMarshal.CreateSpan(ref ev.Sk.Raddr[0], 16));
        CopyText(MemoryMarshal.CreateReadOnlySpan(ref o.Comm[0], 16), MemoryMarshal.CreateSpan(ref ev.Comm[0], 16));
        CopyText(MemoryMarshal.CreateReadOnlySpan(ref o.Pcomm[0], 16), MemoryMarshal.CreateSpan(ref ev.Pcomm[0], 16));
        byte[] b = new byte[Unsafe.SizeOf<SyscallEvent>()];
        MemoryMarshal.Write(b, in ev);
        return b;
    }

    /// <summary>A packet record as the kernel writes it: the header, then the first bytes of the packet.</summary>
    private static byte[] Packet(ulong ts, bool egress, ulong cookie, byte[] ip, SockOwner owner)
    {
        int cap = Math.Min(ip.Length, SnapLength);
        owner.TsNs = ts;
        var h = new PacketEvent
        {
            Type = (ushort)CaptureType.Packet,
            Dir = (byte)(egress ? PacketDir.Egress : PacketDir.Ingress),
            Flags = (byte)(PacketFlags.Netns | PacketFlags.Owner),
            Cpu = egress ? 1u : 0u,
            TsNs = ts,
            Cookie = cookie,
            Ifindex = 1,
            Netns = Netns,
            Len = (uint)ip.Length,
            CapLen = (uint)cap,
            Owner = owner,
        };
        int header = Unsafe.SizeOf<PacketEvent>();
        byte[] rec = new byte[header + CaptureSession.Capacity((uint)cap)];
        MemoryMarshal.Write(rec, in h);
        ip.AsSpan(0, cap).CopyTo(rec.AsSpan(header));
        return rec;
    }

    /// <summary>An IPv4 TCP segment over 127.0.0.1 with a payload of <paramref name="payload"/> bytes.</summary>
    private static byte[] Tcp4(ushort sport, ushort dport, uint seq, uint ack, int payload, ushort id)
    {
        byte[] p = new byte[40 + payload];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        p[12] = 127; p[15] = 1;
        p[16] = 127; p[19] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), sport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), dport);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(28), ack);
        p[32] = 5 << 4;
        p[33] = 0x18;
        for (int i = 0; i < payload; i++)
            p[40 + i] = (byte)('a' + i % 26);
        return p;
    }

    private static void Text(Span<byte> dest, string text)
    {
        dest.Clear();
        Encoding.UTF8.GetBytes(text, dest);
    }

    private static void CopyText(ReadOnlySpan<byte> src, Span<byte> dest) => src.CopyTo(dest);
}
