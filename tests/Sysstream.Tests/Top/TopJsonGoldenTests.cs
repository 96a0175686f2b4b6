using System.Net;
using System.Text;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Top.Batch;
using Xunit;
using static Sysstream.Tests.Top.TopFixtures;

namespace Sysstream.Tests.Top;

/// <summary>
/// `top -o json` byte for byte: a frame with every kind of row (TCP over IPv4 and IPv6, UDP,
/// unix, no owner, closed, failed, names that need escaping, fractional rates) against the
/// line the writer is documented to print.
/// </summary>
public sealed class TopJsonGoldenTests
{
    private static TopFrame Frame()
    {
        ConnectionTotals v6 = Tcp(2, 77, "::1", 8080, "::1", 51000, tx: 1_000_001, rx: 333, comm: "nginx") with
        {
            Family = Sock.AF_INET6,
            SrttUs = 57,
            Retransmits = 2,
            Inode = 123456,
            OwnerUid = 33,
            Flags = TopConnFlags.Passive | TopConnFlags.Established | TopConnFlags.RstRx,
        };
        ConnectionTotals failed = Tcp(3, 4242, "10.0.0.1", 40001, "10.0.0.9", 9, state: 7, closeNs: Second + Second / 2, comm: "curl") with
        {
            Flags = TopConnFlags.Active | TopConnFlags.Failed | TopConnFlags.Closed | TopConnFlags.RstTx,
        };
        ConnectionTotals unowned = Tcp(4, 0, "127.0.0.1", 8080, "127.0.0.1", 40002, rx: 5) with { OwnerComm = "" };
        ConnectionTotals unix = new()
        {
            Cookie = 5,
            Family = Sock.AF_UNIX,
            SocketType = 1,
            LocalAddress = IPAddress.None,
            RemoteAddress = IPAddress.None,
            TxBytes = 64,
            TxCalls = 1,
            FirstNs = Second,
            LastNs = Second,
            OwnerPid = 4242,
            OwnerStartNs = 1000,
            OwnerComm = "curl",
        };
        ProcessTotals quoted = ProcRow(9, "a\"b\\c\u00e9\u0001", tx: 10, rx: 3, uid: 1000) with { CgroupId = 4096 };
        return FrameBuilder.Build(Snap(Second),
            Snap(2 * Second + Second / 3,
                [ProcRow(4242, "curl", tx: 87, rx: 100_204, exitNs: Second), ProcRow(77, "nginx", tx: 1_000_001, rx: 87, uid: 33), quoted],
                [Tcp(1, 4242, "127.0.0.1", 40000, "127.0.0.1", 8080, tx: 87, rx: 100_204, comm: "curl"), v6, failed, unowned, unix,
                 Udp(6, 9, 5353, tx: 10)]),
            new FakeFacts());
    }

    [Fact]
    public void A_frame_is_the_documented_line_byte_for_byte()
    {
        var ms = new MemoryStream();
        new TopJsonWriter(ms, new EventClock(1_000_000_000_000)).Write(Frame());
        Assert.Equal(Expected, Encoding.UTF8.GetString(ms.ToArray()));
    }

    private const string Expected =
        "{\"ts\":\"1970-01-01T00:16:42.333333333Z\",\"ts_ns\":1002333333333,\"interval_s\":1.333333,\"totals\":{\"tx_bytes\":1000098,\"rx_bytes\":100294,\"tx_rate\":750073.5,\"rx_rate\":75220.5,\"processes\":3,\"exited_processes\":1,\"connections\":6,\"open_connections\":4,\"connects\":0,\"connect_fails\":0,\"resets\":0,\"retransmits\":0},\"processes\":[{\"pid\":77,\"ppid\":1,\"uid\":33,\"user\":\"u33\",\"comm\":\"nginx\",\"cmdline\":\"cmd 77\",\"exited\":false,\"exit_ts\":null,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:42.000000000Z\",\"cgroup_id\":0,\"sockets\":1,\"tx_rate\":750000.8,\"rx_rate\":65.3,\"tx_bytes\":1000001,\"rx_bytes\":87,\"tx_calls\":1,\"rx_calls\":1,\"connects\":0,\"connect_fails\":0,\"resets\":0,\"retransmits\":0},{"
        + "\"pid\":4242,\"ppid\":1,\"uid\":0,\"user\":\"root\",\"comm\":\"curl\",\"cmdline\":\"cmd 4242\",\"exited\":true,\"exit_ts\":\"1970-01-01T00:16:41.000000000Z\",\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:42.000000000Z\",\"cgroup_id\":0,\"sockets\":1,\"tx_rate\":65.3,\"rx_rate\":75153,\"tx_bytes\":87,\"rx_bytes\":100204,\"tx_calls\":1,\"rx_calls\":1,\"connects\":0,\"connect_fails\":0,\"resets\":0,\"retransmits\":0},{"
        + "\"pid\":9,\"ppid\":1,\"uid\":1000,\"user\":\"u1000\",\"comm\":\"a\\u0022b\\\\c\\u00E9\\u0001\",\"cmdline\":\"cmd 9\",\"exited\":false,\"exit_ts\":null,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:42.000000000Z\",\"cgroup_id\":4096,\"sockets\":1,\"tx_rate\":7.5,\"rx_rate\":2.3,\"tx_bytes\":10,\"rx_bytes\":3,\"tx_calls\":1,\"rx_calls\":1,\"connects\":0,\"connect_fails\":0,\"resets\":0,\"retransmits\":0}],\"connections\":[{\"cookie\":2,\"proto\":\"tcp\",\"family\":\"inet6\",\"laddr\":\"::1\",\"lport\":8080,\"raddr\":\"::1\",\"rport\":51000,\"state\":\"ESTABLISHED\",\"pid\":77,\"comm\":\"nginx\",\"uid\":33,\"user\":\"u33\",\"inode\":123456,\"tx_rate\":750000.8,\"rx_rate\":249.8,\"tx_bytes\":1000001,\"rx_bytes\":333,\"tx_calls\":0,\"rx_calls\":0,\"srtt_us\":57,\"retransmits\":2,\"age_s\":1.333,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":false,\"flags\":[\"passive\",\"established\",\"rst_rx\"]},{"
        + "\"cookie\":1,\"proto\":\"tcp\",\"family\":\"inet\",\"laddr\":\"127.0.0.1\",\"lport\":40000,\"raddr\":\"127.0.0.1\",\"rport\":8080,\"state\":\"ESTABLISHED\",\"pid\":4242,\"comm\":\"curl\",\"uid\":0,\"user\":\"root\",\"inode\":0,\"tx_rate\":65.3,\"rx_rate\":75153,\"tx_bytes\":87,\"rx_bytes\":100204,\"tx_calls\":0,\"rx_calls\":0,\"srtt_us\":0,\"retransmits\":0,\"age_s\":1.333,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":false,\"flags\":[\"established\"]},{"
        + "\"cookie\":5,\"proto\":\"unix\",\"family\":\"unix\",\"laddr\":null,\"lport\":null,\"raddr\":null,\"rport\":null,\"state\":\"-\",\"pid\":4242,\"comm\":\"curl\",\"uid\":0,\"user\":\"root\",\"inode\":0,\"tx_rate\":48,\"rx_rate\":0,\"tx_bytes\":64,\"rx_bytes\":0,\"tx_calls\":1,\"rx_calls\":0,\"srtt_us\":null,\"retransmits\":0,\"age_s\":1.333,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":false,\"flags\":[]},{"
        + "\"cookie\":6,\"proto\":\"udp\",\"family\":\"inet\",\"laddr\":\"*\",\"lport\":5353,\"raddr\":\"*\",\"rport\":0,\"state\":\"UNCONN\",\"pid\":9,\"comm\":\"udp\",\"uid\":0,\"user\":\"root\",\"inode\":0,\"tx_rate\":7.5,\"rx_rate\":0,\"tx_bytes\":10,\"rx_bytes\":0,\"tx_calls\":0,\"rx_calls\":0,\"srtt_us\":null,\"retransmits\":0,\"age_s\":1.333,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":false,\"flags\":[]},{"
        + "\"cookie\":4,\"proto\":\"tcp\",\"family\":\"inet\",\"laddr\":\"127.0.0.1\",\"lport\":8080,\"raddr\":\"127.0.0.1\",\"rport\":40002,\"state\":\"ESTABLISHED\",\"pid\":null,\"comm\":null,\"uid\":null,\"user\":null,\"inode\":0,\"tx_rate\":0,\"rx_rate\":3.8,\"tx_bytes\":0,\"rx_bytes\":5,\"tx_calls\":0,\"rx_calls\":0,\"srtt_us\":0,\"retransmits\":0,\"age_s\":1.333,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":false,\"flags\":[\"established\"]},{"
        + "\"cookie\":3,\"proto\":\"tcp\",\"family\":\"inet\",\"laddr\":\"10.0.0.1\",\"lport\":40001,\"raddr\":\"10.0.0.9\",\"rport\":9,\"state\":\"CLOSE\",\"pid\":4242,\"comm\":\"curl\",\"uid\":0,\"user\":\"root\",\"inode\":0,\"tx_rate\":0,\"rx_rate\":0,\"tx_bytes\":0,\"rx_bytes\":0,\"tx_calls\":0,\"rx_calls\":0,\"srtt_us\":0,\"retransmits\":0,\"age_s\":0.5,\"first_seen\":\"1970-01-01T00:16:41.000000000Z\",\"last_seen\":\"1970-01-01T00:16:41.000000000Z\",\"closed\":true,\"flags\":[\"active\",\"failed\",\"rst_tx\",\"closed\"]}],\"hosts\":[{\"raddr\":\"::1\",\"connections\":1,\"open_connections\":1,\"pids\":[77],\"comms\":[\"nginx\"],\"tx_rate\":750000.8,\"rx_rate\":249.8,\"tx_bytes\":1000001,\"rx_bytes\":333,\"retransmits\":2},{"
        + "\"raddr\":\"127.0.0.1\",\"connections\":2,\"open_connections\":2,\"pids\":[4242],\"comms\":[\"curl\"],\"tx_rate\":65.3,\"rx_rate\":75156.8,\"tx_bytes\":87,\"rx_bytes\":100209,\"retransmits\":0},{"
        + "\"raddr\":\"*\",\"connections\":1,\"open_connections\":1,\"pids\":[9],\"comms\":[\"udp\"],\"tx_rate\":7.5,\"rx_rate\":0,\"tx_bytes\":10,\"rx_bytes\":0,\"retransmits\":0},{"
        + "\"raddr\":\"10.0.0.9\",\"connections\":1,\"open_connections\":0,\"pids\":[4242],\"comms\":[\"curl\"],\"tx_rate\":0,\"rx_rate\":0,\"tx_bytes\":0,\"rx_bytes\":0,\"retransmits\":0}]}"
        + "\n";
}
