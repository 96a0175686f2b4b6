using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Bpf;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Proc;
using Sysstream.Tests.Output;
using Xunit;

namespace Sysstream.Tests.Capture;

/// <summary>IP packets and ring records as the kernel side writes them, and a recorder over them.</summary>
internal static unsafe class CaptureFixtures
{
    public const uint Lo = 1;
    public const uint Netns = 4026531840;

    /// <summary>An IPv4 TCP segment (20-byte IP header, 20-byte TCP header, then payload).</summary>
    public static byte[] Tcp4(string src, ushort sport, string dst, ushort dport, byte flags, uint seq, int payload, ushort id = 1)
    {
        byte[] p = new byte[40 + payload];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        p[6] = 0x40; // don't fragment
        p[8] = 64;
        p[9] = 6;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(12, 4), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(16, 4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), sport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), dport);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), seq);
        p[32] = 5 << 4;
        p[33] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(34), 65535);
        for (int i = 0; i < payload; i++)
            p[40 + i] = (byte)('a' + i % 26);
        return p;
    }

    /// <summary>An IPv6 UDP datagram.</summary>
    public static byte[] Udp6(string src, ushort sport, string dst, ushort dport, int payload)
    {
        byte[] p = new byte[48 + payload];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(8 + payload));
        p[6] = 17;
        p[7] = 64;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(8, 16), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(24, 16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(40), sport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(42), dport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(44), (ushort)(8 + payload));
        for (int i = 0; i < payload; i++)
            p[48 + i] = (byte)('A' + i % 26);
        return p;
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    public static SockOwner Owner(uint pid, string comm, int fd = 5, Func func = Func.Sendto, uint uid = 0, uint ppid = 1,
        string pcomm = "bash", ulong startNs = 0, bool matched = true)
    {
        var o = new SockOwner
        {
            Pid = pid,
            Tid = pid,
            Ppid = ppid,
            Uid = uid,
            Gid = uid,
            Fd = fd,
            Func = (byte)func,
            Netns = Netns,
            StartNs = startNs,
            CgroupId = 1,
            Matched = (byte)(matched ? 1 : 0),
        };
        TestEvents.SetText(MemoryMarshal.CreateSpan(ref o.Comm[0], 16), comm);
        TestEvents.SetText(MemoryMarshal.CreateSpan(ref o.Pcomm[0], 16), pcomm);
        return o;
    }

    /// <summary>A packet record: ss_packet_event, then the captured bytes.</summary>
    public static byte[] Packet(ulong ts, bool egress, ulong cookie, byte[] ip, SockOwner? owner = null, uint ifindex = Lo,
        int? capLen = null)
    {
        int cap = capLen ?? ip.Length;
        var h = new PacketEvent
        {
            Type = (ushort)CaptureType.Packet,
            Dir = (byte)(egress ? PacketDir.Egress : PacketDir.Ingress),
            Cpu = 0,
            TsNs = ts,
            Cookie = cookie,
            Ifindex = ifindex,
            Netns = Netns,
            Len = (uint)ip.Length,
            CapLen = (uint)cap,
            Flags = (byte)PacketFlags.Netns,
        };
        if (owner is { } o)
        {
            h.Owner = o;
            h.Flags |= (byte)PacketFlags.Owner;
        }
        int header = Unsafe.SizeOf<PacketEvent>();
        byte[] rec = new byte[header + CaptureSession.Capacity((uint)cap)];
        MemoryMarshal.Write(rec, in h);
        ip.AsSpan(0, cap).CopyTo(rec.AsSpan(header));
        return rec;
    }

    public static byte[] Bytes<T>(T value) where T : unmanaged
    {
        byte[] b = new byte[Unsafe.SizeOf<T>()];
        MemoryMarshal.Write(b, in value);
        return b;
    }

    public static ProcEvent ProcRecord(uint pid, string cmdline, params string[] cgroupLeafFirst)
    {
        var p = new ProcEvent { Type = (ushort)CaptureType.Proc, Pid = pid };
        byte[] args = Encoding.UTF8.GetBytes(cmdline.Replace(' ', '\0') + "\0");
        int n = Math.Min(args.Length, ProcEvent.CmdlineLength);
        args.AsSpan(0, n).CopyTo(MemoryMarshal.CreateSpan(ref p.Cmdline[0], ProcEvent.CmdlineLength));
        p.CmdlineLen = (ushort)n;
        Span<byte> cg = MemoryMarshal.CreateSpan(ref p.Cgroup[0], ProcEvent.CgroupDepthMax * ProcEvent.CgroupNameLength);
        for (int i = 0; i < cgroupLeafFirst.Length; i++)
            TestEvents.SetText(cg.Slice(i * ProcEvent.CgroupNameLength, ProcEvent.CgroupNameLength), cgroupLeafFirst[i]);
        p.CgroupDepth = (ushort)cgroupLeafFirst.Length;
        return p;
    }

    /// <summary>A recorder writing into memory, with a fixture /proc (nothing in it) and a fake clock.</summary>
    public sealed class Harness
    {
        public MemoryStream Output { get; } = new();
        public PcapngWriter Writer { get; }
        public CaptureRecorder Recorder { get; }
        public Dictionary<ulong, SockOwner> KernelOwners { get; } = new();
        public ulong Now { get; set; } = TestEvents.T0;

        public Harness(bool processFilter = false)
        {
            Writer = new PcapngWriter(Output, leaveOpen: true);
            EventClock clock = TestEvents.Clock();
            CaptureFile.Begin(Writer, clock, new CaptureDescription { Hostname = "test", Kernel = "Linux test", SnapLength = 262144 });
            string root = Directory.CreateTempSubdirectory("sysstream-capture-test-").FullName;
            Directory.CreateDirectory(Path.Combine(root, "proc"));
            Directory.CreateDirectory(Path.Combine(root, "etc"));
            File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
            File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\nalice:x:1000:\n");
            Directory.CreateDirectory(Path.Combine(root, "sys/class/net/lo"));
            File.WriteAllText(Path.Combine(root, "sys/class/net/lo/ifindex"), "1\n");
            var contexts = new ProcessContexts(new ProcessTable(root));
            var interfaces = new InterfaceTable(Writer, 262144, Netns, root);
            Recorder = new CaptureRecorder(Writer, clock, contexts, interfaces, TryGetOwner, new RecorderSettings
            {
                TraceRing = 0,
                CaptureRing = 1,
                ProcessFilter = processFilter,
                WindowNs = 100_000_000,
            }, () => Now);
        }

        private bool TryGetOwner(ulong cookie, out SockOwner owner) => KernelOwners.TryGetValue(cookie, out owner);

        public void Packet(byte[] record) => Recorder.OnRecord(1, record);

        public void Syscall(SyscallEvent ev) => Recorder.OnRecord(0, Bytes(ev));

        public byte[] Finish()
        {
            Recorder.OnEnd();
            return Output.ToArray();
        }
    }

    /// <summary>Every block of a file, with packets' comments and flags decoded.</summary>
    public sealed record ReadPacket(int Interface, ulong TimestampNs, byte[] Data, uint OriginalLength, List<string> Comments, uint? Flags, List<string> CustomJson);

    public static (List<ReadPacket> Packets, List<(SysstreamBlockKind Kind, byte[] Payload)> Blocks, IReadOnlyList<PcapngInterface> Interfaces) ReadAll(byte[] file)
    {
        var packets = new List<ReadPacket>();
        var blocks = new List<(SysstreamBlockKind, byte[])>();
        var reader = new PcapngReader(new MemoryStream(file));
        while (reader.TryRead(out PcapngBlock b))
        {
            if (b.Type == BlockType.EnhancedPacket)
            {
                PcapngPacket p = reader.ReadPacket(b);
                var comments = new List<string>();
                var json = new List<string>();
                uint? flags = null;
                foreach (PcapngOption o in PcapngReader.Options(b, p.OptionsAt))
                {
                    if (o.Code == OptionCode.Comment)
                        comments.Add(Encoding.UTF8.GetString(o.Value));
                    else if (o.Code == OptionCode.EpbFlags)
                        flags = BinaryPrimitives.ReadUInt32LittleEndian(o.Value);
                    else if (o.Code == OptionCode.CustomStringCopyable)
                    {
                        Assert.Equal(SysstreamBlocks.EnterpriseNumber, BinaryPrimitives.ReadUInt32LittleEndian(o.Value));
                        json.Add(Encoding.UTF8.GetString(o.Value[4..]));
                    }
                }
                packets.Add(new ReadPacket(p.InterfaceId, reader.Interfaces[p.InterfaceId].ToNanoseconds(p.Timestamp), p.Data.ToArray(),
                    p.OriginalLength, comments, flags, json));
            }
            else if (SysstreamBlocks.TryParse(b, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload))
            {
                blocks.Add((kind, payload.ToArray()));
            }
        }
        return (packets, blocks, reader.Interfaces);
    }

    /// <summary>tshark, if installed (Debian's package): the independent reader.</summary>
    public static string? Tshark => File.Exists("/usr/bin/tshark") ? "/usr/bin/tshark" : null;

    public static string LuaPlugin => Path.Combine(Sysstream.Tests.Btf.BtfTestData.RepositoryRoot(), "src", "Sysstream.Capture", "wireshark", "sysstream.lua");

    /// <summary>Runs tshark on a file; returns stdout and stderr without the root warning it always prints.</summary>
    public static (int Code, string Stdout, string Stderr) RunTshark(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(Tshark!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-r");
        psi.ArgumentList.Add(file);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("tshark did not finish in 60 s");
        }
        string err = string.Join('\n', stderr.Result.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("Running as user", StringComparison.Ordinal)));
        return (p.ExitCode, stdout.Result, err);
    }
}
