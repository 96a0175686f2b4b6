using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Sysstream.Bpf;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Proc;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>The texts written with each packet, and the small decisions around them.</summary>
public class ProcessContextTests
{
    private static ProcessContexts Contexts() => new(new ProcessTable(Path.Combine(Path.GetTempPath(), "sysstream-no-such-root")));

    [Theory]
    [InlineData("curl", "k=curl ")]
    [InlineData("", "k=\"\" ")]
    [InlineData("a b", "k=\"a b\" ")]
    [InlineData("say \"hi\"", "k=\"say \\\"hi\\\"\" ")]
    [InlineData("back\\slash", "k=\"back\\\\slash\" ")]
    [InlineData("line\nfeed\ttab\u0001", "k=\"line\\nfeed\\ttab\\x01\" ")]
    [InlineData("ünïcode", "k=ünïcode ")]
    public void Values_are_quoted_only_when_needed(string value, string expected)
    {
        var sb = new StringBuilder();
        ProcessContexts.Pair(sb, "k", value);
        Assert.Equal(expected, sb.ToString());
    }

    [Theory]
    [InlineData("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", "0123456789ab")]
    [InlineData("/kubepods/burstable/pod1/cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope", "fedcba987654")]
    [InlineData("/docker/aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeee1234", "aaaaaaaaaaaa")]
    [InlineData("/user.slice/user-0.slice/session-3.scope", null)]
    [InlineData("/", null)]
    public void A_container_is_named_by_its_cgroup(string cgroup, string? expected) =>
        Assert.Equal(expected, ProcessContexts.ContainerId(cgroup));

    [Fact]
    public void The_comment_and_the_json_say_the_same()
    {
        SockOwner o = Owner(4242, "my app", fd: 7, func: Func.Sendmsg, uid: 1000, ppid: 1, pcomm: "systemd");
        var facts = new ProcessContexts.Facts
        {
            CommandLine = "/usr/bin/app --name \"x y\"",
            Cgroup = "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
        };
        ContextText t = Contexts().Format(PacketSide.In, 99, OwnerSource.Socket, in o, facts);
        string comment = Encoding.UTF8.GetString(t.Comment);
        Assert.Equal("sysstream: dir=in pid=4242 tid=4242 comm=\"my app\" ppid=1 pcomm=systemd uid=1000 user=1000 gid=1000 group=1000 "
            + "cgroup=/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope container=0123456789ab "
            + "fd=7 syscall=sendmsg cookie=99 cmd=\"/usr/bin/app --name \\\"x y\\\"\"", comment);
        using JsonDocument j = JsonDocument.Parse(t.Json);
        JsonElement r = j.RootElement;
        Assert.Equal("in", r.GetProperty("dir").GetString());
        Assert.Equal(4242, r.GetProperty("pid").GetInt32());
        Assert.Equal("my app", r.GetProperty("comm").GetString());
        Assert.Equal("sendmsg", r.GetProperty("syscall").GetString());
        Assert.Equal("0123456789ab", r.GetProperty("container").GetString());
        Assert.Equal("/usr/bin/app --name \"x y\"", r.GetProperty("cmd").GetString());
        Assert.Equal(99UL, r.GetProperty("cookie").GetUInt64());
        Assert.Equal(CaptureFixtures.Netns, r.GetProperty("netns").GetUInt32());
    }

    [Fact]
    public void Texts_are_cached_per_owner_and_socket()
    {
        ProcessContexts c = Contexts();
        SockOwner a = Owner(1, "a"), b = Owner(1, "a", fd: 9);
        ContextText t1 = c.Get(PacketSide.Out, 5, OwnerSource.Socket, in a);
        Assert.Same(t1, c.Get(PacketSide.Out, 5, OwnerSource.Socket, in a));
        Assert.NotSame(t1, c.Get(PacketSide.Out, 5, OwnerSource.Socket, in b));
        Assert.NotSame(t1, c.Get(PacketSide.In, 5, OwnerSource.Socket, in a));
        Assert.Equal("sysstream: dir=out owner=none cookie=0", Encoding.UTF8.GetString(c.Get(PacketSide.Out, 0, OwnerSource.None, default).Comment));
    }

    [Fact]
    public void The_kernel_cgroup_path_is_rebuilt_from_its_names()
    {
        ProcEvent root = ProcRecord(1, "init");
        Assert.Equal("/", root.CgroupPath());
        ProcEvent deep = ProcRecord(1, "x", "c", "b", "a");
        Assert.Equal("/a/b/c", deep.CgroupPath());
        deep.CgroupCut = 1;
        Assert.Equal("/.../a/b/c", deep.CgroupPath());
    }

    [Theory]
    [InlineData(262144u, 16u * 1024 * 1024, 262144u)]
    [InlineData(1500u, 65536u, 1500u)]
    [InlineData(262144u, 65536u, 16384u)]   // a 64 KiB ring holds records of at most 32 KiB
    [InlineData(100000u, 1048576u, 100000u)]
    public void The_snap_length_fits_the_ring(uint requested, uint ring, uint expected)
    {
        uint snap = CaptureSession.EffectiveSnapLength(requested, ring);
        Assert.Equal(expected, snap);
        Assert.True(CaptureSession.Capacity(snap) + 136 <= ring / 2);
    }

    [Fact]
    public void Capacities_double_from_128_bytes()
    {
        Assert.Equal(128u, CaptureSession.Capacity(0));
        Assert.Equal(128u, CaptureSession.Capacity(128));
        Assert.Equal(256u, CaptureSession.Capacity(129));
        Assert.Equal(65536u, CaptureSession.Capacity(65535));
        Assert.Equal(CaptureSession.MaxSnapLength, CaptureSession.Capacity(CaptureSession.MaxSnapLength));
    }

    [Theory]
    [InlineData("net:[4026531840]", 4026531840u)]
    [InlineData("net:[12]", 12u)]
    [InlineData("garbage", null)]
    public void Namespace_links_give_their_inode(string text, uint? expected) => Assert.Equal(expected, NetnsInode.Parse(text));

    [Fact]
    public void Interfaces_are_described_once_each_with_names_where_known()
    {
        string root = Directory.CreateTempSubdirectory("sysstream-ifaces-").FullName;
        try
        {
            foreach ((string name, int idx) in new[] { ("lo", 1), ("eth0", 2) })
            {
                Directory.CreateDirectory(Path.Combine(root, "sys/class/net", name));
                File.WriteAllText(Path.Combine(root, "sys/class/net", name, "ifindex"), $"{idx}\n");
            }
            var ms = new MemoryStream();
            var w = new PcapngWriter(ms, leaveOpen: true);
            w.BeginSectionHeader();
            w.EndBlock();
            var table = new InterfaceTable(w, 1000, 77, root);
            Assert.Equal(0, table.Get(77, 1));
            Assert.Equal(1, table.Get(0, 2));   // 0: sysstream's own namespace
            Assert.Equal(0, table.Get(0, 1));
            Assert.Equal(2, table.Get(88, 1));  // the same ifindex in another namespace
            Assert.Equal(3, table.Get(77, 9));

            var r = new PcapngReader(new MemoryStream(ms.ToArray()));
            while (r.TryRead(out _)) { }
            Assert.Equal(new[] { "lo", "eth0", "if1@netns88", "if9" }, r.Interfaces.Select(i => i.Name ?? "").ToArray());
            Assert.All(r.Interfaces, i => Assert.Equal(LinkType.Raw, i.LinkType));
            Assert.All(r.Interfaces, i => Assert.Equal((byte)9, i.TsResol));
            Assert.All(r.Interfaces, i => Assert.Equal(1000u, i.SnapLength));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_reader_takes_simple_packets_and_statistics_of_other_tools()
    {
        var ms = new MemoryStream();
        var w = new PcapngWriter(ms, leaveOpen: true);
        w.BeginSectionHeader();
        w.EndBlock();
        w.BeginInterface(LinkType.Ethernet, 4);
        w.EndBlock();
        // SPB: original length 6, snap length 4 -> 4 bytes kept
        byte[] spb = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(spb, BlockType.SimplePacket);
        BinaryPrimitives.WriteUInt32LittleEndian(spb.AsSpan(4), 20);
        BinaryPrimitives.WriteUInt32LittleEndian(spb.AsSpan(8), 6);
        spb[12] = 1; spb[13] = 2; spb[14] = 3; spb[15] = 4;
        BinaryPrimitives.WriteUInt32LittleEndian(spb.AsSpan(16), 20);
        ms.Write(spb);
        // ISB of interface 0 without options
        byte[] isb = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(isb, BlockType.InterfaceStatistics);
        BinaryPrimitives.WriteUInt32LittleEndian(isb.AsSpan(4), 24);
        BinaryPrimitives.WriteUInt32LittleEndian(isb.AsSpan(20), 24);
        ms.Write(isb);

        var r = new PcapngReader(new MemoryStream(ms.ToArray()));
        var types = new List<uint>();
        while (r.TryRead(out PcapngBlock b))
        {
            types.Add(b.Type);
            if (b.Type == BlockType.SimplePacket)
            {
                PcapngPacket p = r.ReadPacket(b);
                Assert.Equal(6u, p.OriginalLength);
                Assert.Equal(new byte[] { 1, 2, 3, 4 }, p.Data.ToArray());
            }
        }
        Assert.Equal([BlockType.SectionHeader, BlockType.InterfaceDescription, BlockType.SimplePacket, BlockType.InterfaceStatistics], types);
    }
}
