using System.Buffers.Binary;
using System.Text;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Proc;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>
/// The in-memory window of <c>serve --capture</c>: blocks in (as the writer writes them), pcapng
/// files of any recent span out, readable by our reader and by tshark, with every interface
/// description the packets need, expiry by time, and the byte limit dropping the oldest first.
/// </summary>
public class CaptureWindowTests
{
    private const long S = 1_000_000_000L;
    private static readonly long Wall0 = TestEvents.WallT0;
    private static readonly long MonoOffset = TestEvents.WallT0 - (long)TestEvents.T0;

    /// <summary>A window fed by a writer, with a clock the test moves.</summary>
    private sealed class Feed
    {
        public long Now = Wall0;
        public CaptureWindow Window { get; }
        public PcapngWriter Writer { get; }

        public Feed(TimeSpan window, long maxBytes = 16 << 20)
        {
            Window = new CaptureWindow(window, maxBytes, () => Now);
            Writer = new PcapngWriter(Window.CreateStream());
            CaptureFile.Begin(Writer, TestEvents.Clock(), new CaptureDescription { Hostname = "test", Kernel = "Linux test", SnapLength = 262144 });
        }

        public int Interface(string name)
        {
            int id = Writer.BeginInterface(LinkType.Raw, 262144);
            Writer.AddStringOption(OptionCode.IfName, name);
            Writer.AddUInt8Option(OptionCode.IfTsResol, 9);
            Writer.EndBlock();
            return id;
        }

        public void Packet(int iface, long at, int payload = 20)
        {
            byte[] ip = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, (uint)(at / 1000), payload);
            Writer.BeginEnhancedPacket(iface, (ulong)at, ip, (uint)ip.Length);
            Writer.AddStringOption(OptionCode.Comment, "sysstream: dir=out pid=700 comm=curl");
            Writer.AddUInt32Option(OptionCode.EpbFlags, EpbFlags.Outbound);
            Writer.EndBlock();
        }

        public void Syscall(long at)
        {
            SyscallEvent ev = TestEvents.Event(Func.Connect, Phase.Exit, ts: (ulong)(at - MonoOffset));
            SysstreamBlocks.Write(Writer, SysstreamBlockKind.Syscall, in ev);
        }
    }

    private static List<string> SectionComments(byte[] file)
    {
        var reader = new PcapngReader(new MemoryStream(file));
        Assert.True(reader.TryRead(out PcapngBlock shb));
        Assert.Equal(BlockType.SectionHeader, shb.Type);
        var comments = new List<string>();
        foreach (PcapngOption o in PcapngReader.Options(shb, 16))
        {
            if (o.Code == OptionCode.Comment)
                comments.Add(Encoding.UTF8.GetString(o.Value));
        }
        return comments;
    }

    [Fact]
    public void A_cut_holds_the_header_every_interface_and_the_blocks_of_its_span_in_order()
    {
        var f = new Feed(TimeSpan.FromSeconds(60));
        int lo = f.Interface("lo");
        for (int i = 0; i <= 5; i++)
        {
            f.Packet(lo, Wall0 + i * 10 * S);
            if (i == 2)
                f.Syscall(Wall0 + 25 * S);
            if (i == 3)
            {
                int eth = f.Interface("eth0");
                f.Packet(eth, Wall0 + 30 * S);
                f.Packet(eth, Wall0 + 45 * S);
            }
        }
        f.Now = Wall0 + 55 * S;

        CaptureWindowFile cut = f.Window.Cut(TimeSpan.FromSeconds(20))!;
        Assert.Equal(Wall0 + 35 * S, cut.FromUnixNs);
        Assert.Equal(f.Now, cut.ToUnixNs);
        var (packets, blocks, interfaces) = ReadAll(cut.Pcapng);
        Assert.Equal(["lo", "eth0"], interfaces.Select(i => i.Name));
        // written order: lo 40, eth 45 (written with 30 after lo 30), lo 50
        Assert.Equal([Wall0 + 45 * S, Wall0 + 40 * S, Wall0 + 50 * S], packets.Select(p => (long)p.TimestampNs));
        Assert.Equal([1, 0, 0], packets.Select(p => p.Interface));
        Assert.Equal(3, cut.Packets);
        Assert.Equal([SysstreamBlockKind.Session], blocks.Select(b => b.Kind)); // the session block, always; the syscall at 25 s is older
        List<string> comments = SectionComments(cut.Pcapng);
        Assert.StartsWith("sysstream serve: the last 20 s of the capture, 2026-11-28T01:02:38.123Z to 2026-11-28T01:02:58.123Z", comments[0]);
        Assert.EndsWith("; nothing dropped", comments[0]);
        Assert.StartsWith("sysstream capture:", comments[1]); // the capture's own comment stays

        // The whole window: every block, the system call in its place.
        CaptureWindowFile all = f.Window.Cut()!;
        (packets, blocks, _) = ReadAll(all.Pcapng);
        Assert.Equal(8, packets.Count);
        Assert.Equal([SysstreamBlockKind.Session, SysstreamBlockKind.Syscall], blocks.Select(b => b.Kind));
        Assert.Equal(9, all.Blocks);
        Assert.StartsWith("sysstream serve: the last 60 s", SectionComments(all.Pcapng)[0]);
        // A span longer than the window is the window.
        Assert.Equal(all.Pcapng.Length, f.Window.Cut(TimeSpan.FromHours(1))!.Pcapng.Length);
    }

    [Fact]
    public void Interface_descriptions_stay_for_packets_long_after_their_first_packet_expired()
    {
        var f = new Feed(TimeSpan.FromSeconds(10));
        int a = f.Interface("lo");
        f.Packet(a, Wall0);
        int b = f.Interface("if7@blue");
        f.Packet(b, Wall0 + 1 * S);
        f.Now = Wall0 + 100 * S;
        f.Packet(b, Wall0 + 95 * S);
        f.Packet(a, Wall0 + 96 * S);
        f.Now = Wall0 + 99 * S;

        var (packets, _, interfaces) = ReadAll(f.Window.Cut()!.Pcapng);
        Assert.Equal(2, interfaces.Count);
        Assert.Equal([("if7@blue", Wall0 + 95 * S), ("lo", Wall0 + 96 * S)],
            packets.Select(p => (interfaces[p.Interface].Name, (long)p.TimestampNs)));
        Assert.Equal(2, f.Window.Stats.Packets);
    }

    [Fact]
    public void Blocks_older_than_the_window_expire_without_counting_as_drops()
    {
        var f = new Feed(TimeSpan.FromSeconds(10));
        int lo = f.Interface("lo");
        for (int i = 0; i < 30; i++)
        {
            f.Now = Wall0 + i * S;
            f.Packet(lo, Wall0 + i * S);
            f.Syscall(Wall0 + i * S);
        }
        CaptureWindowStats s = f.Window.Stats;
        Assert.Equal(11, s.Packets); // 19 s .. 29 s
        Assert.Equal(22, s.Blocks);
        Assert.Equal(Wall0 + 19 * S, s.OldestUnixNs);
        Assert.Equal(Wall0 + 29 * S, s.NewestUnixNs);
        Assert.Equal(0, s.DroppedBlocks);
        f.Now = Wall0 + 60 * S;
        Assert.Equal(0, f.Window.Stats.Blocks);
        var (packets, _, interfaces) = ReadAll(f.Window.Cut()!.Pcapng);
        Assert.Empty(packets);
        Assert.Single(interfaces);
    }

    [Fact]
    public void The_byte_limit_drops_the_oldest_blocks_first_and_the_file_says_so()
    {
        const long Limit = 64 * 1024;
        var f = new Feed(TimeSpan.FromSeconds(60), Limit);
        int lo = f.Interface("lo");
        for (int i = 0; i < 200; i++)
        {
            f.Now = Wall0 + i * S / 10;
            f.Packet(lo, Wall0 + i * S / 10, payload: 1000);
        }
        CaptureWindowStats s = f.Window.Stats;
        Assert.True(s.DroppedPackets > 0, "nothing was dropped");
        Assert.Equal(200, s.Packets + s.DroppedPackets);
        Assert.Equal(s.DroppedPackets, s.DroppedBlocks);
        Assert.True(s.Bytes - Limit < 4096, $"{s.Bytes} bytes held for a limit of {Limit} (plus the header blocks)");

        CaptureWindowFile cut = f.Window.Cut()!;
        Assert.True(cut.Incomplete);
        var (packets, _, _) = ReadAll(cut.Pcapng);
        // The newest are kept, without a gap.
        long[] expected = Enumerable.Range(200 - (int)s.Packets, (int)s.Packets).Select(i => Wall0 + i * S / 10).ToArray();
        Assert.Equal(expected, packets.Select(p => (long)p.TimestampNs));
        string comment = SectionComments(cut.Pcapng)[0];
        Assert.Contains($"{s.DroppedBlocks} blocks ({s.DroppedPackets} packets, {s.DroppedBytes} bytes) up to ", comment);
        Assert.EndsWith("were dropped to stay within the byte limit: this span is incomplete", comment);

        // A span after the last drop is complete.
        CaptureWindowFile recent = f.Window.Cut(TimeSpan.FromSeconds(1))!;
        Assert.False(recent.Incomplete);
        Assert.Equal(11, recent.Packets);
        Assert.EndsWith("none of them in this span", SectionComments(recent.Pcapng)[0]);
    }

    [Fact]
    public void A_block_larger_than_the_limit_is_dropped_alone()
    {
        var f = new Feed(TimeSpan.FromSeconds(60), 64 * 1024);
        int lo = f.Interface("lo");
        f.Packet(lo, Wall0);
        f.Packet(lo, Wall0 + 1, payload: 70_000);
        f.Packet(lo, Wall0 + 2);
        CaptureWindowStats s = f.Window.Stats;
        Assert.Equal(2, s.Packets);
        Assert.Equal(1, s.DroppedPackets);
        Assert.Equal([Wall0, Wall0 + 2], ReadAll(f.Window.Cut()!.Pcapng).Packets.Select(p => (long)p.TimestampNs));
    }

    [Fact]
    public void Blocks_written_in_pieces_are_put_back_together()
    {
        // The same file fed whole and in 7-byte pieces gives the same cut.
        var whole = new MemoryStream();
        var w = new PcapngWriter(whole);
        CaptureFile.Begin(w, TestEvents.Clock(), new CaptureDescription { Hostname = "test" });
        int lo = w.BeginInterface(LinkType.Raw, 262144);
        w.AddUInt8Option(OptionCode.IfTsResol, 9);
        w.EndBlock();
        for (int i = 0; i < 20; i++)
        {
            byte[] ip = Tcp4("127.0.0.1", 1, "127.0.0.1", 2, 0x10, (uint)i, i * 13);
            w.BeginEnhancedPacket(lo, (ulong)(Wall0 + i * S), ip, (uint)ip.Length);
            w.EndBlock();
        }
        byte[] file = whole.ToArray();
        long now = Wall0 + 30 * S;
        var a = new CaptureWindow(TimeSpan.FromSeconds(60), 1 << 20, () => now);
        a.CreateStream().Write(file);
        var b = new CaptureWindow(TimeSpan.FromSeconds(60), 1 << 20, () => now);
        using Stream piecewise = b.CreateStream();
        for (int at = 0; at < file.Length; at += 7)
            piecewise.Write(file, at, Math.Min(7, file.Length - at));
        Assert.Equal(a.Cut()!.Pcapng, b.Cut()!.Pcapng);
        Assert.Equal(20, b.Stats.Packets);
    }

    [Fact]
    public void Nothing_can_be_cut_before_the_section_header()
    {
        var w = new CaptureWindow(TimeSpan.FromSeconds(5), 1 << 20);
        Assert.Null(w.Cut());
        Assert.Throws<ArgumentException>(() => w.Append(new byte[8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CaptureWindow(TimeSpan.Zero, 1 << 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CaptureWindow(TimeSpan.FromSeconds(1), 1000));
    }

    /// <summary>The real recorder writing into a window: tshark reads a cut without a warning and
    /// sees the processes in the packets' comments.</summary>
    [SkippableFact]
    public void The_recorder_writes_into_a_window_whose_cuts_tshark_reads()
    {
        Skip.If(Tshark is null, "tshark is not installed (apt-get install tshark)");
        long now = Wall0;
        var window = new CaptureWindow(TimeSpan.FromSeconds(30), 1 << 20, () => now);
        var writer = new PcapngWriter(window.CreateStream());
        EventClock clock = TestEvents.Clock();
        CaptureFile.Begin(writer, clock, new CaptureDescription { Hostname = "test", Kernel = "Linux test", SnapLength = 262144 });
        string root = Directory.CreateTempSubdirectory("sysstream-window-test-").FullName;
        string file = Path.Combine(root, "cut.pcapng");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "proc"));
            Directory.CreateDirectory(Path.Combine(root, "etc"));
            File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\n");
            Directory.CreateDirectory(Path.Combine(root, "sys/class/net/lo"));
            File.WriteAllText(Path.Combine(root, "sys/class/net/lo/ifindex"), "1\n");
            ulong mono = TestEvents.T0;
            var recorder = new CaptureRecorder(writer, clock, new ProcessContexts(new ProcessTable(root)),
                new InterfaceTable(writer, 262144, Netns, root), (ulong _, out SockOwner o) => { o = default; return false; },
                new RecorderSettings { TraceRing = 0, CaptureRing = 1 }, () => mono);
            SockOwner curl = Owner(700, "curl", fd: 5, func: Func.Sendto);
            SockOwner nginx = Owner(800, "nginx", fd: 6, func: Func.Recvfrom);
            for (int i = 0; i < 40; i++)
            {
                ulong ts = TestEvents.T0 + (ulong)i * 1_000_000_000UL;
                byte[] get = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, (uint)(1 + i * 40), 40, id: (ushort)(i + 1));
                recorder.OnRecord(1, Packet(ts, true, 11, get, curl));
                recorder.OnRecord(1, Packet(ts + 100, false, 12, get, nginx));
                recorder.OnRecord(0, Bytes(TestEvents.Event(Func.Sendto, Phase.Exit, ts: ts + 200, comm: "curl")));
                mono = ts + 500_000_000;
                now = clock.ToUnixNs(mono);
                recorder.OnDrained();
            }
            recorder.OnEnd();

            CaptureWindowFile cut = window.Cut(TimeSpan.FromSeconds(10))!;
            Assert.Equal(10, cut.Packets);
            File.WriteAllBytes(file, cut.Pcapng);
            (int code, string stdout, string stderr) = RunTshark(file, "-Y", "ip", "-T", "fields", "-e", "frame.comment");
            Assert.Equal(0, code);
            Assert.Equal("", stderr);
            string[] rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(10, rows.Length);
            Assert.All(rows, r =>
            {
                Assert.Contains("dir=out pid=700 ", r);
                Assert.Contains("dir=in pid=800 ", r);
            });
            (code, _, stderr) = RunTshark(file);
            Assert.Equal(0, code);
            Assert.Equal("", stderr);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // ------------------------------------------------------------------ storage in chunks

    /// <summary>An Enhanced Packet Block on the first interface (ns timestamps) whose data is its
    /// sequence number and bytes derived from it: any byte out of place shows.</summary>
    private static byte[] Numbered(int seq, long ts, int dataLength)
    {
        var b = new byte[32 + ((dataLength + 3) & ~3)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, BlockType.EnhancedPacket);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), b.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), (uint)((ulong)ts >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)ts);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), dataLength);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(24), dataLength);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(28), seq);
        for (int i = 4; i < dataLength; i++)
            b[28 + i] = (byte)(seq * 31 + i * 7);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(b.Length - 4), b.Length);
        return b;
    }

    /// <summary>The packet blocks of a cut, as they are in it; every block of it whole.</summary>
    private static List<byte[]> PacketBlocks(byte[] file)
    {
        var blocks = new List<byte[]>();
        int at = 0;
        while (at < file.Length)
        {
            Assert.True(file.Length - at >= 12, $"{file.Length - at} bytes left at {at}");
            int length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + 4));
            Assert.True(length >= 12 && length % 4 == 0 && length <= file.Length - at, $"block of {length} bytes at {at}");
            Assert.Equal(length, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + length - 4)));
            if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)) == BlockType.EnhancedPacket)
                blocks.Add(file.AsSpan(at, length).ToArray());
            at += length;
        }
        return blocks;
    }

    private static int Seq(byte[] block) => BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(28));

    /// <summary>Data lengths by turns large (the byte limit drops blocks) and small (they expire first).</summary>
    private static int Length(int seq) => (seq / 300 % 2 == 0 ? 1000 : 4) + seq * 389 % 1000;

    /// <summary>The packet blocks of a cut are exactly <paramref name="expected"/>, byte for byte.</summary>
    private static void AssertBlocks(IEnumerable<byte[]> expected, CaptureWindowFile cut)
    {
        byte[] want = expected.SelectMany(b => b).ToArray();
        Assert.Equal(want, PacketBlocks(cut.Pcapng).SelectMany(b => b).ToArray());
        // and they close the file
        Assert.Equal(want, cut.Pcapng[^want.Length..]);
    }

    [Fact]
    public void Blocks_across_chunks_and_larger_than_a_chunk_come_out_byte_for_byte()
    {
        var f = new Feed(TimeSpan.FromSeconds(60));
        f.Interface("lo");
        long headerBytes = f.Window.Stats.Bytes;
        var appended = new List<byte[]>();
        void Add(int length, long ts = 0)
        {
            int seq = appended.Count;
            byte[] b = Numbered(seq, ts != 0 ? ts : Wall0 + seq, length);
            appended.Add(b);
            f.Window.Append(b);
        }
        while (appended.Sum(b => (long)b.Length) < 2L * CaptureWindow.ChunkBytes + 5000)
            Add(Length(appended.Count));
        Add(CaptureWindow.ChunkBytes + 1000); // a chunk of its own, the one before left part empty
        Add(CaptureWindow.ChunkBytes - 32); // exactly a chunk
        for (int i = 0; i < 100; i++)
            Add(4 + i * 53 % 3000);

        CaptureWindowFile cut = f.Window.Cut()!;
        Assert.Equal(appended.Count, cut.Blocks);
        Assert.Equal(appended.Count, cut.Packets);
        AssertBlocks(appended, cut);
        Assert.Equal(appended.Count, ReadAll(cut.Pcapng).Packets.Count);
        CaptureWindowStats s = f.Window.Stats;
        Assert.Equal(appended.Count, s.Blocks);
        Assert.Equal(0, s.DroppedBlocks);
        Assert.Equal(headerBytes + appended.Sum(b => (long)b.Length), s.Bytes);

        // The older ones expired: the newest, from a chunk's middle.
        f.Now = Wall0 + 60 * S + appended.Count - 10;
        AssertBlocks(appended[^10..], f.Window.Cut()!);

        // Blocks in and out of a span by turns: runs of a chunk with gaps between them.
        int first = appended.Count;
        for (int i = 0; i < 40; i++)
            Add(Length(i), Wall0 + (i % 2 == 0 ? 30 : 55) * S);
        CaptureWindowFile span = f.Window.Cut(TimeSpan.FromSeconds(10))!;
        AssertBlocks(appended[first..].Where((_, i) => i % 2 == 1), span);
        Assert.Equal(20, span.Blocks);
    }

    [Fact]
    public void A_cut_keeps_its_bytes_while_the_window_drops_expires_and_reuses_its_memory()
    {
        const long Limit = 64 * 1024;
        var f = new Feed(TimeSpan.FromSeconds(1), Limit);
        f.Interface("lo");
        var appended = new List<byte[]>();
        void Add()
        {
            int seq = appended.Count;
            long ts = Wall0 + seq * 20_000_000L; // 50 blocks a second
            f.Now = ts;
            byte[] b = Numbered(seq, ts, Length(seq));
            appended.Add(b);
            f.Window.Append(b);
        }
        for (int i = 0; i < 200; i++)
            Add();
        CaptureWindowFile first = f.Window.Cut()!;
        byte[] copy = first.Pcapng.ToArray();
        AssertBlocks(appended[^first.Blocks..], first);

        // Many times over the limit and the window: every chunk let go and taken again.
        for (int i = 0; i < 2000; i++)
            Add();
        CaptureWindowStats s = f.Window.Stats;
        Assert.True(s.DroppedBlocks > 0, "nothing was dropped");
        Assert.True(appended.Count - s.Blocks - s.DroppedBlocks > 0, "nothing expired");
        Assert.True(s.Bytes - Limit < 4096, $"{s.Bytes} bytes held for a limit of {Limit}");

        Assert.Equal(copy, first.Pcapng);
        CaptureWindowFile second = f.Window.Cut()!;
        Assert.Equal(s.Blocks, second.Blocks);
        AssertBlocks(appended[^second.Blocks..], second);
        Assert.Equal(second.Blocks, ReadAll(second.Pcapng).Packets.Count);
    }

    [Fact]
    public void Cuts_copied_while_the_writer_goes_on_hold_whole_blocks_as_they_were_written()
    {
        // A small limit: the writer drops, expires and reuses chunks all the time, also while a
        // cut copies outside the lock.
        var f = new Feed(TimeSpan.FromMilliseconds(100), 64 * 1024);
        f.Interface("lo");
        // Now and then a pause longer than the window, or a block close to the limit: no block
        // is left, and the next goes on where the last one ended.
        static long Time(int seq) => Wall0 + seq * 2_000_000L + seq / 500 * 200_000_000L;
        static int Size(int seq) => seq % 500 == 250 ? 60_000 : Length(seq);
        int written = -1;
        bool stop = false;
        Exception? failed = null;
        var writer = new Thread(() =>
        {
            try
            {
                for (int seq = 0; !Volatile.Read(ref stop); seq++)
                {
                    Volatile.Write(ref f.Now, Time(seq));
                    f.Window.Append(Numbered(seq, Time(seq), Size(seq)));
                    Volatile.Write(ref written, seq);
                }
            }
            catch (Exception e)
            {
                failed = e;
            }
        });
        writer.Start();
        int cuts = 0, first = -1;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref failed) is null && (cuts < 5000 || Volatile.Read(ref written) < 500_000) && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                int before = Volatile.Read(ref written);
                CaptureWindowFile cut = f.Window.Cut()!;
                List<byte[]> blocks = PacketBlocks(cut.Pcapng);
                Assert.Equal(cut.Blocks, blocks.Count);
                if (before < 0)
                    continue;
                if (blocks.Count == 0)
                {
                    // the clock moved past a pause before the next block came
                    Assert.True(Time(before) < cut.FromUnixNs, $"an empty cut, block {before} was written before it");
                    continue;
                }
                int from = Seq(blocks[0]);
                Assert.True(from >= first, $"a cut from block {from} after one from {first}");
                for (int i = 0; i < blocks.Count; i++)
                    Assert.Equal(Numbered(from + i, Time(from + i), Size(from + i)), blocks[i]);
                Assert.True(from + blocks.Count - 1 >= before, $"the cut ends at {from + blocks.Count - 1}, block {before} was written before it");
                first = from;
                cuts++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            writer.Join();
        }
        Assert.Null(failed);
        Assert.True(cuts >= 5000, $"{cuts} cuts");
        CaptureWindowStats s = f.Window.Stats;
        Assert.True(s.DroppedBlocks > 0 && written + 1 - s.Blocks - s.DroppedBlocks > 0, "nothing dropped or nothing expired");
    }

    [Fact]
    public void Appending_allocates_nothing_once_the_window_is_full()
    {
        var f = new Feed(TimeSpan.FromSeconds(1), 64 * 1024);
        f.Interface("lo");
        byte[][] blocks = Enumerable.Range(0, 1200).Select(i => Numbered(i, 0, Length(i))).ToArray();
        int seq = 0;
        void Append(int n)
        {
            for (int end = seq + n; seq < end; seq++)
            {
                long ts = Wall0 + seq * 20_000_000L;
                byte[] b = blocks[seq % blocks.Length];
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), (uint)((ulong)ts >> 32));
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)ts);
                f.Now = ts;
                f.Window.Append(b);
            }
        }
        Append(5000);
        f.Window.Cut();
        Append(5000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Append(20_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        CaptureWindowStats s = f.Window.Stats;
        Assert.True(s.DroppedBlocks > 0 && seq - s.Blocks - s.DroppedBlocks > 0, "nothing dropped or nothing expired");
    }
}
