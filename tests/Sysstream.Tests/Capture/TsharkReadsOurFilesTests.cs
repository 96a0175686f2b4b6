using System.Text.RegularExpressions;
using Sysstream.Events;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>
/// tshark (Debian's package) is the independent reader: it must read what we write without a
/// single warning, see our packets, comments and directions, and with the Lua plugin turn the
/// comments and our system call blocks into fields. Skipped where tshark is not installed.
/// </summary>
public partial class TsharkReadsOurFilesTests : IDisposable
{
    private static readonly ulong T0 = TestEvents.T0;
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"sysstream-tshark-{Guid.NewGuid():n}.pcapng");

    public void Dispose() => File.Delete(_file);

    private void WriteSample()
    {
        var h = new Harness();
        SockOwner curl = Owner(700, "curl", fd: 5, func: Func.Sendto);
        SockOwner nginx = Owner(800, "nginx", fd: 6, func: Func.Recvfrom, uid: 1000);
        var proc = ProcRecord(700, "curl -s -H \"X-Name: a b\" http://127.0.0.1:8080/");
        h.Recorder.OnRecord(1, Bytes(proc));
        var connect = TestEvents.Event(Func.Connect, Phase.Exit, ts: T0, ret: -115, comm: "curl");
        connect.Pid = 700;
        connect.Fd = 5;
        h.Syscall(connect);
        byte[] syn = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x02, 1, 0);
        byte[] synAck = Tcp4("127.0.0.1", 8080, "127.0.0.1", 40000, 0x12, 100, 0, id: 2);
        byte[] get = Tcp4("127.0.0.1", 40000, "127.0.0.1", 8080, 0x18, 2, 40, id: 3);
        h.Packet(Packet(T0 + 1000, true, 11, syn, curl));
        h.Packet(Packet(T0 + 1100, false, 12, syn, nginx));
        h.Packet(Packet(T0 + 2000, true, 12, synAck, nginx));
        h.Packet(Packet(T0 + 2100, false, 11, synAck, curl));
        h.Packet(Packet(T0 + 3000, true, 11, get, curl));
        h.Packet(Packet(T0 + 4000, true, 21, Udp6("::1", 45353, "::1", 49999, 20), nginx));
        h.Packet(Packet(T0 + 5000, false, 0, Tcp4("10.1.1.1", 1, "10.1.1.2", 2, 0x04, 0, 0), null, ifindex: 3));
        h.Recorder.OnRecord(0, Bytes(TestEvents.Lost(T0 + 6000, 1, 9)));
        File.WriteAllBytes(_file, h.Finish());
    }

    [SkippableFact]
    public void Tshark_reads_every_block_without_a_warning()
    {
        Skip.If(Tshark is null, "tshark is not installed (apt-get install tshark)");
        WriteSample();
        (int code, string stdout, string stderr) = RunTshark(_file, "-T", "fields", "-e", "frame.number", "-e", "frame.protocols",
            "-e", "frame.packet_flags_direction", "-e", "frame.comment", "-e", "frame.interface_name");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        string[] rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] packets = rows.Where(r => r.Split('\t')[1].StartsWith("raw:ip", StringComparison.Ordinal)).ToArray();
        Assert.Equal(5, packets.Length); // 7 sightings, two loopback pairs joined: 5 packets
        Assert.Equal(rows.Length - 5, rows.Count(r => r.Split('\t')[1].Contains("pcapng", StringComparison.Ordinal) || r.Split('\t')[1] == "data"));

        string[] syn = packets[0].Split('\t');
        Assert.Equal("raw:ip:tcp", syn[1]);
        Assert.Equal("0x00000002", syn[2]); // outbound
        Assert.Equal("lo", syn[4]);
        // two comments: tshark joins them with a comma
        Assert.StartsWith("sysstream: dir=out pid=700 tid=700 comm=curl ", syn[3]);
        Assert.Contains(",sysstream: dir=in pid=800 tid=800 comm=nginx ", syn[3]);
        Assert.Equal("raw:ipv6:udp:data", packets[3].Split('\t')[1]);
        string[] reset = packets[4].Split('\t');
        Assert.Equal("0x00000001", reset[2]); // inbound
        Assert.Equal("sysstream: dir=in owner=none cookie=0", reset[3]);
        Assert.Equal("if3", reset[4]);
    }

    [SkippableFact]
    public void The_lua_plugin_turns_comments_into_filterable_fields()
    {
        Skip.If(Tshark is null, "tshark is not installed (apt-get install tshark)");
        WriteSample();
        (int code, string stdout, string stderr) = RunTshark(_file, "-X", "lua_script:" + LuaPlugin,
            "-Y", "sysstream.out.comm == \"curl\" && sysstream.out.uid == 0",
            "-T", "fields", "-e", "frame.number", "-e", "sysstream.pid", "-e", "sysstream.cmdline", "-e", "sysstream.fd",
            "-e", "sysstream.syscall", "-e", "sysstream.user", "-e", "sysstream.cookie", "-E", "occurrence=f");
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        string[] rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, rows.Length); // curl sent the SYN and the GET
        string[] f = rows[0].Split('\t');
        Assert.Equal("700", f[1]);
        Assert.Equal("curl -s -H \"X-Name: a b\" http://127.0.0.1:8080/", f[2]);
        Assert.Equal("5", f[3]);
        Assert.Equal("sendto", f[4]);
        Assert.Equal("root", f[5]);
        Assert.Equal("11", f[6]);

        // sysstream.pid selects exactly the packets with that process on one end
        (_, string byPid, string err2) = RunTshark(_file, "-X", "lua_script:" + LuaPlugin, "-Y", "sysstream.pid == 800",
            "-T", "fields", "-e", "frame.number");
        Assert.Equal("", err2);
        Assert.Equal(3, byPid.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // SYN, SYN-ACK, the UDP datagram; no system call rows

        // and the sender's fields tell the ends apart
        (_, string sentBy800, _) = RunTshark(_file, "-X", "lua_script:" + LuaPlugin, "-Y", "sysstream.out.pid == 800",
            "-T", "fields", "-e", "frame.number");
        Assert.Equal(2, sentBy800.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // SYN-ACK, the UDP datagram
    }

    [SkippableFact]
    public void The_lua_plugin_shows_the_system_call_blocks()
    {
        Skip.If(Tshark is null, "tshark is not installed (apt-get install tshark)");
        WriteSample();
        (int code, string stdout, string stderr) = RunTshark(_file, "-X", "lua_script:" + LuaPlugin,
            "-Y", "sysstream.call.func", "-T", "fields", "-e", "sysstream.call.func", "-e", "sysstream.call.phase",
            "-e", "sysstream.call.pid", "-e", "sysstream.call.comm", "-e", "sysstream.call.ret", "-e", "sysstream.call.fd");
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.Equal("connect\texit\t700\tcurl\t-115\t5", stdout.Trim());

        (_, string lost, _) = RunTshark(_file, "-X", "lua_script:" + LuaPlugin, "-Y", "sysstream.lost", "-T", "fields", "-e", "sysstream.lost");
        Assert.Equal("9", lost.Trim());
    }

    [Fact]
    public void The_lua_plugin_knows_every_system_call_name()
    {
        string lua = File.ReadAllText(LuaPlugin);
        Match m = FuncTable().Match(lua);
        Assert.True(m.Success, "no funcs table in sysstream.lua");
        string[] names = Regex.Matches(m.Groups[1].Value, "\"([a-z0-9]+)\"").Select(x => x.Groups[1].Value).ToArray();
        string[] expected = Enumerable.Range(0, (int)Func.Count)
            .Select(i => System.Text.Encoding.ASCII.GetString(Names.FuncName((Func)i))).ToArray();
        Assert.Equal(expected, names);
    }

    [GeneratedRegex(@"local funcs = \{ \[0\] = (.*?)\}", RegexOptions.Singleline)]
    private static partial Regex FuncTable();
}
