using System.Buffers.Binary;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>The capture's holding queue on its own (order within and across sources, ties, the
/// byte arena's reuse), and the recorder's order and pairing across drains and rings.</summary>
public class CaptureQueueTests
{
    private const ulong Ms = 1_000_000;
    private static readonly ulong T0 = TestEvents.T0;

    private static long Add(CaptureQueue q, int source, ulong ts, int value, int length = 8)
    {
        Span<byte> b = q.Add(source, ts, kind: (byte)source, length, out long handle);
        b.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        return handle;
    }

    private static List<(ulong Ts, int Value, byte Kind)> TakeAll(CaptureQueue q, ulong upTo = ulong.MaxValue)
    {
        var taken = new List<(ulong, int, byte)>();
        while (q.TryTake(upTo, out HeldRecord r))
        {
            taken.Add((r.Ts, BinaryPrimitives.ReadInt32LittleEndian(q.Bytes(r.Handle, r.Length)), r.Kind));
            q.Free(r.Handle);
        }
        return taken;
    }

    [Fact]
    public void Records_of_one_source_come_out_in_time_order_and_ties_in_arrival_order()
    {
        var q = new CaptureQueue(1);
        Add(q, 0, 10, 1);
        Add(q, 0, 30, 2);
        Add(q, 0, 20, 3);   // another CPU wrote it a little later
        Add(q, 0, 20, 4);   // same time: after the one that came first
        Add(q, 0, 5, 5);    // far back: walks past every record
        Assert.Equal(5, q.Count);
        Assert.Equal([5, 1, 3, 4, 2], TakeAll(q).Select(t => t.Value));
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public void Two_sources_drained_one_after_the_other_are_merged_by_time()
    {
        var q = new CaptureQueue(2);
        // the tracer's ring is drained first, then the capture's: whole batches out of order
        Add(q, 0, 100, 1);
        Add(q, 0, 300, 2);
        Add(q, 0, 200, 3);
        Add(q, 1, 150, 4);
        Add(q, 1, 100, 5);  // same time as a record of the other ring that came first
        Add(q, 1, 400, 6);
        Assert.Equal([(100UL, 1, (byte)0), (100UL, 5, (byte)1), (150UL, 4, (byte)1), (200UL, 3, (byte)0), (300UL, 2, (byte)0), (400UL, 6, (byte)1)],
            TakeAll(q));
    }

    [Fact]
    public void Only_records_at_or_before_the_bound_are_taken_and_later_ones_still_sort_in()
    {
        var q = new CaptureQueue(2);
        Add(q, 0, 10, 1);
        Add(q, 1, 20, 2);
        Add(q, 0, 30, 3);
        Assert.Equal([1, 2], TakeAll(q, upTo: 20).Select(t => t.Value));
        Add(q, 1, 25, 4);
        Add(q, 1, 15, 5); // late: older than what was taken, still the oldest held
        Assert.Equal([5, 4, 3], TakeAll(q).Select(t => t.Value));
    }

    [Fact]
    public void Held_bytes_stay_in_place_and_the_arena_is_reused_without_growing()
    {
        var q = new CaptureQueue(2);
        var rng = new Random(7);
        ulong ts = 0;
        long capacity = 0;
        for (int round = 0; round < 50; round++)
        {
            // ~2 MiB per round, a few records out of order, some large ones
            for (int i = 0; i < 4000; i++)
            {
                ts += 10;
                int length = i % 500 == 0 ? 70_000 : 64 + rng.Next(600);
                ulong t = ts - (ulong)rng.Next(3) * 5;
                Add(q, i % 2, t, (int)t, length);
            }
            ulong last = 0;
            while (q.TryTake(ts - 20_000, out HeldRecord r))
            {
                Assert.True(r.Ts >= last, "out of order");
                last = r.Ts;
                Assert.Equal((int)r.Ts, BinaryPrimitives.ReadInt32LittleEndian(q.Bytes(r.Handle, r.Length)));
                q.Free(r.Handle);
            }
            if (round == 10)
                capacity = q.ArenaBytes;
        }
        // in the steady state the same chunks are used again
        Assert.InRange(q.ArenaBytes, 1, capacity + 2 * RecordArena.ChunkBytes);
        TakeAll(q);
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public void A_record_larger_than_a_chunk_gets_one_of_its_own()
    {
        var q = new CaptureQueue(1);
        Add(q, 0, 1, 1, 100);
        long big = Add(q, 0, 2, 2, RecordArena.ChunkBytes + 4096);
        q.Bytes(big, RecordArena.ChunkBytes + 4096)[^1] = 0xaa;
        Add(q, 0, 3, 3, 100);
        Assert.Equal([1, 2, 3], TakeAll(q).Select(t => t.Value));
    }

    // ------------------------------------------------------------------ the recorder

    private static readonly SockOwner Client = Owner(700, "client", fd: 5, func: Func.Sendto);
    private static readonly SockOwner Server = Owner(800, "server", fd: 6, func: Func.Recvfrom);

    [Fact]
    public void A_delivery_drained_after_a_release_still_pairs_with_its_held_sending()
    {
        var h = new Harness();
        byte[] data = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 1, 20);
        h.Packet(Packet(T0, egress: true, cookie: 11, data, Client));
        h.Now = T0 + 50 * Ms;
        h.Recorder.OnDrained();   // nothing old enough yet
        h.Packet(Packet(T0 + 40_000, egress: false, cookie: 12, data, Server));
        var (packets, _, _) = ReadAll(h.Finish());
        ReadPacket p = Assert.Single(packets);
        Assert.Equal(2, p.Comments.Count);
        Assert.Equal(1, h.Recorder.Counters.LocalMerged);
        Assert.Equal(1, h.Recorder.Counters.Packets);
    }

    [Fact]
    public void Pairs_of_many_connections_interleaved_each_find_their_own_sending()
    {
        var h = new Harness();
        var sent = new List<byte[]>();
        for (int c = 0; c < 40; c++)
        {
            byte[] d = Tcp4("127.0.0.1", (ushort)(40000 + c), "127.0.0.1", 8080, 0x18, (uint)c, 10);
            sent.Add(d);
            h.Packet(Packet(T0 + (ulong)c * 1000, true, 100 + (ulong)c, d, Client));
        }
        // deliveries in reverse order, then a sending that is never delivered
        for (int c = 39; c >= 0; c--)
            h.Packet(Packet(T0 + 50_000 + (ulong)(39 - c) * 1000, false, 200 + (ulong)c, sent[c], Server));
        h.Packet(Packet(T0 + 100_000, true, 999, Tcp4("127.0.0.1", 1, "10.0.0.9", 2, 0x18, 5, 10), Client, ifindex: 2));
        var (packets, _, _) = ReadAll(h.Finish());
        Assert.Equal(41, packets.Count);
        for (int c = 0; c < 40; c++)
        {
            Assert.Equal(sent[c], packets[c].Data);
            Assert.Equal(2, packets[c].Comments.Count);
            Assert.Contains($"cookie={200 + c}", packets[c].Comments[1]);
        }
        Assert.Single(packets[40].Comments);
        Assert.Equal(40, h.Recorder.Counters.LocalMerged);
        Assert.Equal(0, h.Recorder.Pending);
    }

    [Fact]
    public void Records_across_rings_and_drains_are_written_in_order_and_a_late_one_is_counted()
    {
        var h = new Harness();
        byte[] a = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 1, 1);
        byte[] b = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 2, 1);
        // drain 1: the tracer's ring, then the capture's (each nearly ordered, the two interleaved in time)
        h.Syscall(TestEvents.Event(Func.Sendto, Phase.Enter, ts: T0 + 1 * Ms));
        h.Syscall(TestEvents.Event(Func.Sendto, Phase.Exit, ts: T0 + 3 * Ms, ret: 1));
        h.Packet(Packet(T0 + 2 * Ms, true, 11, a, Client));
        h.Packet(Packet(T0 + 4 * Ms, true, 11, b, Client));
        h.Now = T0 + 103 * Ms + 500_000;
        h.Recorder.OnDrained();           // writes the records up to T0 + 3.5 ms
        Assert.Equal(1, h.Recorder.Pending);
        // drain 2: a record older than what was written (the reader fell far behind)
        h.Syscall(TestEvents.Event(Func.Recvfrom, Phase.Exit, ts: T0 + 2 * Ms + 500_000, ret: 1));
        byte[] file = h.Finish();

        var order = new List<string>();
        var reader = new PcapngReader(new MemoryStream(file));
        while (reader.TryRead(out PcapngBlock blk))
        {
            if (blk.Type == BlockType.EnhancedPacket)
                order.Add("packet");
            else if (SysstreamBlocks.TryParse(blk, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload) && kind == SysstreamBlockKind.Syscall)
                order.Add(((Func)SysstreamBlocks.Read<SyscallEvent>(payload).Func).ToString().ToLowerInvariant());
        }
        Assert.Equal(["sendto", "packet", "sendto", "recvfrom", "packet"], order);
        Assert.Equal(1, h.Recorder.Counters.Late);
        Assert.Equal(3, h.Recorder.Counters.Syscalls);
    }

    [Fact]
    public void A_call_that_carries_its_entry_is_written_as_its_entry_and_its_exit_in_order()
    {
        var h = new Harness();
        SyscallEvent call = TestEvents.Event(Func.Recvfrom, Phase.Exit, ts: T0 + 5 * Ms, ret: 40);
        call.DurationNs = 3 * Ms;
        call.Flags |= (uint)EventFlags.WithEntry;
        byte[] data = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 1, 40);
        h.Syscall(call);
        h.Packet(Packet(T0 + 4 * Ms, true, 11, data, Client)); // between the entry and the exit
        var blocks = new List<string>();
        var reader = new PcapngReader(new MemoryStream(h.Finish()));
        while (reader.TryRead(out PcapngBlock blk))
        {
            if (blk.Type == BlockType.EnhancedPacket)
                blocks.Add("packet");
            else if (SysstreamBlocks.TryParse(blk, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload) && kind == SysstreamBlockKind.Syscall)
            {
                SyscallEvent ev = SysstreamBlocks.Read<SyscallEvent>(payload);
                Assert.Equal(0u, ev.Flags & (uint)EventFlags.WithEntry);
                blocks.Add($"{(Phase)ev.Phase}@{(ev.TsNs - T0) / Ms}");
            }
        }
        Assert.Equal(["Enter@2", "packet", "Exit@5"], blocks);
        Assert.Equal(2, h.Recorder.Counters.Syscalls);
    }
}
