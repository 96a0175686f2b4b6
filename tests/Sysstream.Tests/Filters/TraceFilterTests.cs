using Sysstream.Filters;
using Xunit;

namespace Sysstream.Tests.Filters;

public class TraceFilterTests
{
    [Fact]
    public void Empty_filter_is_empty()
    {
        Assert.True(TraceFilter.Parse().IsEmpty);
        Assert.False(TraceFilter.Parse(pids: [1]).IsEmpty);
    }

    [Theory]
    [InlineData("127.0.0.1", new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 })]
    [InlineData("::ffff:10.1.2.3", new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 })]
    [InlineData("::1", new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]
    [InlineData("[fe80::1]", new byte[] { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]
    public void Addresses_take_the_kernels_16_byte_form(string text, byte[] expected)
    {
        Assert.Equal(expected, TraceFilter.ParseAddress(text));
    }

    [Theory]
    [InlineData("4", (ushort)2)]
    [InlineData("inet6", (ushort)10)]
    [InlineData("6", (ushort)10)]
    [InlineData("UNIX", (ushort)1)]
    public void Families(string text, ushort family) => Assert.Equal(family, TraceFilter.Parse(family: text).Family);

    [Fact]
    public void Protocols_and_ports_and_uid()
    {
        TraceFilter f = TraceFilter.Parse(proto: "UDP", ports: [53, 8080], uid: "0");
        Assert.Equal((ushort)17, f.Protocol);
        Assert.Equal(new ushort[] { 53, 8080 }, f.Ports);
        Assert.Equal(0u, f.Uid);
        Assert.Equal(0u, TraceFilter.Parse(uid: "root").Uid); // by name, from /etc/passwd
    }

    [Fact]
    public void Long_names_are_cut_to_the_kernels_15_bytes()
    {
        Assert.Equal("abcdefghijklmno", TraceFilter.Parse(comms: ["abcdefghijklmnopqrstuvwxyz"]).Comms[0]);
    }

    [Theory]
    [InlineData("bad --port 0")]
    [InlineData("bad --port 65536")]
    [InlineData("bad --pid -3")]
    [InlineData("bad --addr 300.1.1.1")]
    [InlineData("bad --family 5")]
    [InlineData("bad --proto sctp")]
    [InlineData("bad --uid no-such-user-here")]
    [InlineData("bad --cgroup /no/such/cgroup")]
    [InlineData("bad --comm")]
    public void Bad_values_are_one_line_usage_errors(string expected)
    {
        var ex = Assert.Throws<SysstreamException>(() => Parse(expected));
        Assert.StartsWith(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Equal(ExitCodes.Usage, ex.ExitCode);
    }

    private static TraceFilter Parse(string which) => which switch
    {
        "bad --port 0" => TraceFilter.Parse(ports: [0]),
        "bad --port 65536" => TraceFilter.Parse(ports: [65536]),
        "bad --pid -3" => TraceFilter.Parse(pids: [-3]),
        "bad --addr 300.1.1.1" => TraceFilter.Parse(addrs: ["300.1.1.1"]),
        "bad --family 5" => TraceFilter.Parse(family: "5"),
        "bad --proto sctp" => TraceFilter.Parse(proto: "sctp"),
        "bad --uid no-such-user-here" => TraceFilter.Parse(uid: "no-such-user-here"),
        "bad --cgroup /no/such/cgroup" => TraceFilter.Parse(cgroup: "/no/such/cgroup"),
        "bad --comm" => TraceFilter.Parse(comms: [""]),
        _ => throw new ArgumentException(which),
    };
}
