using System.Runtime.InteropServices;
using System.Text.Json;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>From ring records to pcapng blocks: ordering, loopback pairs, owners found late,
/// the connection fallback, process filters, losses and the exact system call bytes.</summary>
public class CaptureRecorderTests
{
    private const ulong Ms = 1_000_000;
    private static readonly ulong T0 = TestEvents.T0;

    private static readonly SockOwner Curl = Owner(700, "curl", fd: 5, func: Func.Sendto, ppid: 351, pcomm: "bash");
    private static readonly SockOwner Nginx = Owner(800, "nginx", fd: 6, func: Func.Recvfrom, uid: 1000, ppid: 799, pcomm: "nginx");

    [Fact]
    public void A_loopback_packet_seen_leaving_and_arriving_is_one_packet_with_both_processes()
    {
        var h = new Harness();
        byte[] syn = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x02, 1, 0);
        h.Packet(Packet(T0, egress: true, cookie: 11, syn, Curl));
        h.Packet(Packet(T0 + 5000, egress: false, cookie: 12, syn, Nginx));
        var (packets, _, interfaces) = ReadAll(h.Finish());

        ReadPacket p = Assert.Single(packets);
        Assert.Equal(syn, p.Data);
        Assert.Equal((ulong)TestEvents.WallT0, p.TimestampNs);
        Assert.Equal(EpbFlags.Outbound, p.Flags);
        Assert.Equal(2, p.Comments.Count);
        Assert.Equal("sysstream: dir=out pid=700 tid=700 comm=curl ppid=351 pcomm=bash uid=0 user=root gid=0 group=root fd=5 syscall=sendto cookie=11",
            p.Comments[0]);
        Assert.StartsWith("sysstream: dir=in pid=800 tid=800 comm=nginx ppid=799 pcomm=nginx uid=1000 user=alice gid=1000 group=alice fd=6 syscall=recvfrom cookie=12",
            p.Comments[1]);
        using JsonDocument out0 = JsonDocument.Parse(p.CustomJson[0]);
        Assert.Equal("out", out0.RootElement.GetProperty("dir").GetString());
        Assert.Equal(700, out0.RootElement.GetProperty("pid").GetInt32());
        Assert.Equal("curl", out0.RootElement.GetProperty("comm").GetString());
        Assert.Equal(11UL, out0.RootElement.GetProperty("cookie").GetUInt64());
        using JsonDocument in1 = JsonDocument.Parse(p.CustomJson[1]);
        Assert.Equal("in", in1.RootElement.GetProperty("dir").GetString());
        Assert.Equal("alice", in1.RootElement.GetProperty("user").GetString());
        Assert.Equal("lo", Assert.Single(interfaces).Name);
        Assert.Equal(1, h.Recorder.Counters.LocalMerged);
    }

    [Fact]
    public void Retransmitted_twins_pair_with_their_own_delivery()
    {
        var h = new Harness();
        byte[] data = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 1, 10);
        h.Packet(Packet(T0, true, 11, data, Curl));
        h.Packet(Packet(T0 + 10 * Ms, true, 11, data, Curl)); // the same bytes again, not yet delivered
        h.Packet(Packet(T0 + 10 * Ms + 5, false, 12, data, Nginx));
        var (packets, _, _) = ReadAll(h.Finish());
        Assert.Equal(2, packets.Count);
        Assert.Equal(2, packets[0].Comments.Count); // the first sending pairs with the only delivery
        Assert.Single(packets[1].Comments);
    }

    [Fact]
    public void A_delivery_before_the_server_first_reads_gets_its_owner_when_written()
    {
        var h = new Harness();
        byte[] request = Tcp4("10.0.0.2", 50000, "10.0.0.1", 80, 0x18, 1, 100);
        h.Packet(Packet(T0, egress: false, cookie: 21, request, owner: null, ifindex: 2));
        // the worker reads it a moment later: the kernel's map has the owner by the time it is written
        h.KernelOwners[21] = Nginx;
        var (packets, _, interfaces) = ReadAll(h.Finish());
        ReadPacket p = Assert.Single(packets);
        Assert.Equal(EpbFlags.Inbound, p.Flags);
        Assert.StartsWith("sysstream: dir=in pid=800 ", Assert.Single(p.Comments));
        Assert.Equal("if2", interfaces[0].Name); // not a device of the fixture's /sys/class/net
    }

    [Fact]
    public void Without_a_full_socket_the_connection_last_user_is_named_and_without_any_none()
    {
        var h = new Harness();
        byte[] fin = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x11, 5, 0);
        byte[] ack = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x10, 6, 0, id: 2);
        byte[] rst = Tcp4("127.0.0.1", 8081, "127.0.0.1", 40001, 0x04, 0, 0, id: 3);
        h.Packet(Packet(T0, true, 11, fin, Curl));
        // TIME_WAIT's last ACK leaves through the kernel's control socket (cookie 99, no owner)
        h.Packet(Packet(T0 + Ms, true, 99, ack, owner: null));
        // a reset for a closed port: nobody's
        h.Packet(Packet(T0 + 2 * Ms, true, 99, rst, owner: null));
        var (packets, _, _) = ReadAll(h.Finish());
        Assert.Equal(3, packets.Count);
        Assert.Equal("sysstream: dir=out pid=700 tid=700 comm=curl ppid=351 pcomm=bash uid=0 user=root gid=0 group=root fd=5 syscall=sendto owner=connection cookie=99",
            Assert.Single(packets[1].Comments));
        Assert.Equal("sysstream: dir=out owner=none cookie=99", Assert.Single(packets[2].Comments));
        Assert.Equal(2, h.Recorder.Counters.PacketsWithProcess);
        Assert.Equal(1, h.Recorder.Counters.PacketsWithoutProcess);
    }

    [Fact]
    public void With_a_process_filter_unknown_and_unmatched_owners_are_left_out()
    {
        var h = new Harness(processFilter: true);
        byte[] a = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 1, 1);
        byte[] b = Tcp4("127.0.0.1", 40002, "127.0.0.1", 8080, 0x18, 1, 2);
        byte[] c = Tcp4("127.0.0.1", 40003, "127.0.0.1", 8080, 0x18, 1, 3);
        h.Packet(Packet(T0, true, 31, a, owner: null));      // never resolved
        h.Packet(Packet(T0 + 1, true, 32, b, owner: null));  // resolved to a process outside the filter
        h.KernelOwners[32] = Owner(900, "other", matched: false);
        h.Packet(Packet(T0 + 2, true, 33, c, owner: null));  // resolved to a captured process
        h.KernelOwners[33] = Curl;
        var (packets, _, _) = ReadAll(h.Finish());
        ReadPacket p = Assert.Single(packets);
        Assert.Equal(c, p.Data);
        Assert.Equal(2, h.Recorder.Counters.Filtered);
    }

    [Fact]
    public void Records_of_both_rings_are_written_in_timestamp_order_and_system_calls_byte_for_byte()
    {
        var h = new Harness();
        SyscallEvent connect = TestEvents.Event(Func.Connect, Phase.Enter, ts: T0);
        SyscallEvent send = TestEvents.Event(Func.Sendto, Phase.Exit, ts: T0 + 3 * Ms, ret: 10);
        byte[] syn = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x02, 1, 0);
        byte[] data = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 2, 10);
        // arrival order differs from time order (two rings, several CPUs)
        h.Packet(Packet(T0 + 1 * Ms, true, 11, syn, Curl));
        h.Syscall(send);
        h.Syscall(connect);
        h.Packet(Packet(T0 + 2 * Ms, true, 11, data, Curl));
        h.Recorder.OnRecord(1, Bytes(TestEvents.Lost(T0 + 4 * Ms, 1, 7)));
        h.Recorder.OnRecord(0, Bytes(TestEvents.Lost(T0 + 5 * Ms, 0, 3)));

        // nothing is written before the window has passed
        h.Now = T0 + 50 * Ms;
        h.Recorder.OnDrained();
        long early = h.Output.Length;
        h.Now = T0 + 200 * Ms;
        h.Recorder.OnDrained();
        Assert.True(h.Output.Length > early);

        byte[] file = h.Finish();
        var order = new List<string>();
        var reader = new PcapngReader(new MemoryStream(file));
        while (reader.TryRead(out PcapngBlock b))
        {
            if (b.Type == BlockType.EnhancedPacket)
                order.Add("packet");
            else if (SysstreamBlocks.TryParse(b, out SysstreamBlockKind kind, out ReadOnlyMemory<byte> payload))
            {
                order.Add(kind.ToString());
                if (kind == SysstreamBlockKind.Syscall)
                {
                    SyscallEvent ev = SysstreamBlocks.Read<SyscallEvent>(payload);
                    Assert.Equal(ev.TsNs == T0 ? Bytes(connect) : Bytes(send), payload.ToArray());
                }
            }
        }
        Assert.Equal(["Session", "Syscall", "packet", "packet", "Syscall", "LostPackets", "LostSyscalls"], order);
        Assert.Equal(7, h.Recorder.Counters.LostPackets);
        Assert.Equal(3, h.Recorder.Counters.LostSyscalls);
    }

    [Fact]
    public void A_cut_packet_keeps_its_original_length_and_IPv6_UDP_is_written_raw()
    {
        var h = new Harness();
        byte[] big = Udp6("::1", 5353, "::1", 9999, 3000);
        h.Packet(Packet(T0, true, 41, big, Curl, capLen: 200));
        var (packets, _, interfaces) = ReadAll(h.Finish());
        ReadPacket p = Assert.Single(packets);
        Assert.Equal(200, p.Data.Length);
        Assert.Equal((uint)big.Length, p.OriginalLength);
        Assert.Equal(LinkType.Raw, interfaces[p.Interface].LinkType);
    }

    [Fact]
    public void The_kernel_description_of_a_process_gives_its_command_line_and_cgroup()
    {
        var h = new Harness();
        SockOwner curl = Owner(700, "curl", startNs: 123_000_000_000);
        ProcEvent proc = ProcRecord(700, "curl -s \"http://x/a b\"", "session-1.scope", "user.slice");
        proc.StartNs = curl.StartNs;
        h.Recorder.OnRecord(1, Bytes(proc));
        h.Packet(Packet(T0, true, 11, Tcp4("127.0.0.1", 1, "127.0.0.1", 2, 0x02, 1, 0), curl));
        var (packets, _, _) = ReadAll(h.Finish());
        string comment = Assert.Single(Assert.Single(packets).Comments);
        Assert.Contains(" cgroup=/user.slice/session-1.scope ", comment);
        Assert.EndsWith(" cmd=\"curl -s \\\"http://x/a b\\\"\"", comment);
    }

    [Fact]
    public void Malformed_records_are_counted_not_written()
    {
        var h = new Harness();
        byte[] rec = Packet(T0, true, 11, Tcp4("127.0.0.1", 1, "127.0.0.1", 2, 0x02, 1, 0), Curl);
        MemoryMarshal.Write(rec.AsSpan(36), 100_000u); // cap_len beyond the record
        h.Packet(rec);
        h.Packet([1]);
        h.Recorder.OnRecord(1, Bytes((ushort)999));
        var (packets, _, _) = ReadAll(h.Finish());
        Assert.Empty(packets);
        Assert.Equal(3, h.Recorder.Counters.Malformed);
    }
}
