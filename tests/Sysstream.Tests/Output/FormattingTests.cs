using Xunit;
using System.Globalization;
using System.Net;
using System.Text;
using Sysstream.Events;
using Sysstream.Output;

namespace Sysstream.Tests.Output;

public class ErrnoTests
{
    [Theory]
    [InlineData(11, "EAGAIN")]
    [InlineData(111, "ECONNREFUSED")]
    [InlineData(115, "EINPROGRESS")]
    [InlineData(1, "EPERM")]
    [InlineData(104, "ECONNRESET")]
    [InlineData(110, "ETIMEDOUT")]
    [InlineData(32, "EPIPE")]
    public void Names_come_from_the_C_library(int errno, string expected)
    {
        Assert.Equal(expected, Encoding.ASCII.GetString(Errno.Name(errno)));
        Span<byte> buf = stackalloc byte[Errno.MaxFormattedLength];
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..Errno.Format(errno, buf)]));
    }

    [Theory]
    [InlineData(200, "E200")]
    [InlineData(4095, "E4095")]
    [InlineData(0, "E0")]
    public void Unknown_numbers_print_as_E_and_the_number(int errno, string expected)
    {
        Assert.True(Errno.Name(errno).IsEmpty);
        Span<byte> buf = stackalloc byte[Errno.MaxFormattedLength];
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..Errno.Format(errno, buf)]));
    }

    [Theory]
    [InlineData(-1L, true)]
    [InlineData(-11L, true)]
    [InlineData(-4095L, true)]
    [InlineData(-4096L, false)]
    [InlineData(long.MinValue, false)]
    [InlineData(0L, false)]
    [InlineData(146L, false)]
    public void Only_minus_4095_to_minus_1_are_errors(long ret, bool error)
    {
        Assert.Equal(error, Errno.IsError(ret));
        var ev = TestEvents.Event(Func.Recvfrom, Phase.Exit, ret: ret);
        Assert.Equal(error, ev.IsError);
        Assert.Equal(error ? (int)-ret : 0, ev.ErrorNumber);
    }

    [Fact]
    public void An_entry_is_never_an_error()
    {
        var ev = TestEvents.Event(Func.Connect, Phase.Enter, ret: -11);
        Assert.False(ev.IsError);
    }
}

public class EventAccessorTests
{
    [Fact]
    public void Typed_accessors_read_the_bytes()
    {
        var ev = TestEvents.Event(Func.Accept4, Phase.Exit);
        ev.Flags = (uint)(EventFlags.Sock | EventFlags.Seq);
        Assert.Equal(EventType.Syscall, ev.EventType);
        Assert.Equal(Func.Accept4, ev.FuncKind);
        Assert.Equal(Phase.Exit, ev.PhaseKind);
        Assert.True(ev.IsExit);
        Assert.Equal(EventFlags.Sock | EventFlags.Seq, ev.EventFlags);
        Assert.True(ev.HasFlag(EventFlags.Seq));
        Assert.False(ev.HasFlag(EventFlags.PeerFromArgs));
        Assert.Equal("accept4", Encoding.ASCII.GetString(ev.FuncKind.Utf8Name()));
    }

    [Fact]
    public void Comm_stops_at_the_NUL_and_may_fill_all_16_bytes()
    {
        var ev = TestEvents.Event(Func.Read, Phase.Enter, comm: "nginx", pcomm: "0123456789abcdef");
        Assert.Equal("nginx", Encoding.UTF8.GetString(ev.CommSpan));
        Assert.Equal("0123456789abcdef", Encoding.UTF8.GetString(ev.PcommSpan));
    }

    [Fact]
    public void Every_func_has_its_lower_case_C_name()
    {
        for (var f = Func.Socket; f < Func.Count; f++)
            Assert.Equal(f.ToString().ToLowerInvariant(), Encoding.ASCII.GetString(Names.FuncName(f)));
    }
}

public class AddressFormattingTests
{
    private static string Address(string ip)
    {
        Span<byte> raw = stackalloc byte[16];
        TestEvents.Address(raw, ip);
        Span<byte> text = stackalloc byte[EventFormatting.MaxAddressLength];
        return Encoding.ASCII.GetString(text[..EventFormatting.WriteAddress(raw, text)]);
    }

    private static string Endpoint(string ip, ushort port)
    {
        Span<byte> raw = stackalloc byte[16];
        TestEvents.Address(raw, ip);
        Span<byte> text = stackalloc byte[EventFormatting.MaxEndpointLength];
        return Encoding.ASCII.GetString(text[..EventFormatting.WriteEndpoint(raw, port, text)]);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3")]
    [InlineData("255.255.255.255", "255.255.255.255")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("::1", "::1")]
    [InlineData("::", "::")]
    [InlineData("fe80::1", "fe80::1")]
    [InlineData("2001:db8::", "2001:db8::")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("1:0:0:2:0:0:0:3", "1:0:0:2::3")]
    [InlineData("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]
    [InlineData("2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:FFFF", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff")]
    public void Addresses_in_RFC_5952_form_with_IPv4_for_v4_mapped(string input, string expected) =>
        Assert.Equal(expected, Address(input));

    [Fact]
    public void IPv6_matches_the_framework_on_random_addresses()
    {
        var rng = new Random(7);
        Span<byte> raw = stackalloc byte[16];
        Span<byte> text = stackalloc byte[EventFormatting.MaxAddressLength];
        for (int i = 0; i < 5000; i++)
        {
            for (int g = 0; g < 8; g++)
            {
                ushort v = rng.Next(3) == 0 ? (ushort)rng.Next(1, 65536) : (ushort)0;
                raw[g * 2] = (byte)(v >> 8);
                raw[g * 2 + 1] = (byte)v;
            }
            raw[0] = 0x20; // keep clear of the v4-compatible and v4-mapped forms the framework prints dotted
            var expected = new IPAddress(raw).ToString();
            Assert.Equal(expected, Encoding.ASCII.GetString(text[..EventFormatting.WriteIPv6(raw, text)]));
        }
    }

    [Theory]
    [InlineData("127.0.0.1", 80, "127.0.0.1:80")]
    [InlineData("::1", 53, "[::1]:53")]
    [InlineData("::ffff:192.168.1.9", 65535, "192.168.1.9:65535")]
    public void Endpoints_put_IPv6_in_brackets(string ip, int port, string expected) =>
        Assert.Equal(expected, Endpoint(ip, (ushort)port));

    [Fact]
    public void Unknown_means_no_address_and_no_port()
    {
        var ev = TestEvents.Event(Func.Socket, Phase.Exit);
        TestEvents.Socket(ref ev, Sock.AF_INET, 1, 6);
        Assert.True(ev.Sk.LocalUnknown);
        Assert.True(ev.Sk.RemoteUnknown);
        TestEvents.Socket(ref ev, Sock.AF_INET6, 1, 6);
        Assert.True(ev.Sk.LocalUnknown);
        TestEvents.Socket(ref ev, Sock.AF_INET, 1, 6, laddr: "0.0.0.0", lport: 8080);
        Assert.False(ev.Sk.LocalUnknown);
        Assert.True(ev.Sk.RemoteUnknown);
    }

    [Theory]
    [InlineData("/run/app.sock", "/run/app.sock")]
    [InlineData("\0x", "@x")]
    [InlineData("\0a\0b", "@a@b")]
    [InlineData("", "")]
    public void Unix_paths_and_abstract_names(string raw, string expected)
    {
        var p = TestEvents.Paths(raw, null);
        Span<byte> text = stackalloc byte[UnixPaths.PathLength + 1];
        Assert.Equal(expected, Encoding.UTF8.GetString(text[..p.WriteLocal(text)]));
        Assert.Equal(expected.Length > 0, p.HasLocal);
        Assert.False(p.HasRemote);
    }

    [Fact]
    public void A_full_108_byte_path_has_no_NUL()
    {
        var path = "/" + new string('p', 107);
        var p = TestEvents.Paths(path, "\0" + new string('q', 107));
        Span<byte> text = stackalloc byte[UnixPaths.PathLength + 1];
        Assert.Equal(path, Encoding.UTF8.GetString(text[..p.WriteLocal(text)]));
        Assert.Equal("@" + new string('q', 107), Encoding.UTF8.GetString(text[..p.WriteRemote(text)]));
    }
}

public class TimeFormattingTests
{
    private static string Rfc3339(long ns)
    {
        Span<byte> buf = stackalloc byte[EventFormatting.Rfc3339Length];
        return Encoding.ASCII.GetString(buf[..EventFormatting.WriteRfc3339(ns, buf)]);
    }

    [Fact]
    public void Known_instants()
    {
        Assert.Equal("1970-01-01T00:00:00.000000000Z", Rfc3339(0));
        Assert.Equal("2026-11-28T01:02:03.123456789Z", Rfc3339(TestEvents.WallT0));
        Assert.Equal("2000-02-29T23:59:59.999999999Z",
            Rfc3339(new DateTimeOffset(2000, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds() * 1_000_000_000L - 1));
        Assert.Equal("1969-12-31T23:59:59.999999999Z", Rfc3339(-1));
    }

    [Fact]
    public void Matches_the_framework_over_two_centuries()
    {
        var rng = new Random(11);
        for (int i = 0; i < 20000; i++)
        {
            long ns = rng.NextInt64(0, 4_102_444_800_000_000_000L); // up to 2100-01-01
            var dt = DateTimeOffset.FromUnixTimeSeconds(ns / 1_000_000_000L).UtcDateTime;
            var expected = dt.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)
                + "." + (ns % 1_000_000_000L).ToString("D9", CultureInfo.InvariantCulture) + "Z";
            Assert.Equal(expected, Rfc3339(ns));
        }
    }

    [Theory]
    [InlineData(0UL, "0.000000")]
    [InlineData(498_000UL, "0.000498")]
    [InlineData(2_398_999UL, "0.002398")]
    [InlineData(123_456_789_012UL, "123.456789")]
    public void Relative_seconds_have_six_decimals(ulong ns, string expected)
    {
        Span<byte> buf = stackalloc byte[32];
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..EventFormatting.WriteSeconds(ns, buf)]));
    }

    [Theory]
    [InlineData(850UL, "850ns")]
    [InlineData(12_345UL, "12us")]
    [InlineData(999_999UL, "999us")]
    [InlineData(3_250_000UL, "3.2ms")]
    [InlineData(250_000_000UL, "250.0ms")]
    [InlineData(1_500_000_000UL, "1.5s")]
    [InlineData(61_000_000_000UL, "61.0s")]
    public void Durations_for_people(ulong ns, string expected)
    {
        Span<byte> buf = stackalloc byte[32];
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..EventFormatting.WriteDuration(ns, buf)]));
    }
}

public class NameTests
{
    [Theory]
    [InlineData(Sock.AF_INET, "inet", "AF_INET")]
    [InlineData(Sock.AF_INET6, "inet6", "AF_INET6")]
    [InlineData(Sock.AF_UNIX, "unix", "AF_UNIX")]
    [InlineData(16, "netlink", "AF_NETLINK")]
    public void Families(ushort family, string name, string constant)
    {
        Assert.Equal(name, Encoding.ASCII.GetString(Names.Family(family)));
        Assert.Equal(constant, Encoding.ASCII.GetString(Names.FamilyConstant(family)));
    }

    [Theory]
    [InlineData(Sock.AF_INET, 1, 6, "tcp")]
    [InlineData(Sock.AF_INET6, 2, 17, "udp")]
    [InlineData(Sock.AF_INET, 1, 0, "tcp")]  // socket(AF_INET, SOCK_STREAM, 0)
    [InlineData(Sock.AF_INET, 2, 0, "udp")]
    [InlineData(Sock.AF_INET, 3, 255, "raw")]
    [InlineData(Sock.AF_INET, 2, 1, "icmp")]
    [InlineData(Sock.AF_UNIX, 1, 0, "stream")]
    [InlineData(Sock.AF_UNIX, 2, 0, "dgram")]
    [InlineData(Sock.AF_UNIX, 5, 0, "seqpacket")]
    [InlineData(Sock.AF_INET, 3, 99, "")]
    [InlineData(16, 3, 0, "")]
    public void Protocols(ushort family, ushort type, ushort protocol, string expected) =>
        Assert.Equal(expected, Encoding.ASCII.GetString(Names.Proto(family, type, protocol)));

    [Theory]
    [InlineData(1, "stream", "SOCK_STREAM")]
    [InlineData(2 | Names.SOCK_CLOEXEC | Names.SOCK_NONBLOCK, "dgram", "SOCK_DGRAM")]
    [InlineData(5, "seqpacket", "SOCK_SEQPACKET")]
    public void Socket_types(int type, string name, string constant)
    {
        Assert.Equal(name, Encoding.ASCII.GetString(Names.SocketType(type)));
        Assert.Equal(constant, Encoding.ASCII.GetString(Names.SocketTypeConstant(type)));
    }

    [Theory]
    [InlineData(1, "ESTABLISHED")]
    [InlineData(2, "SYN_SENT")]
    [InlineData(10, "LISTEN")]
    [InlineData(8, "CLOSE_WAIT")]
    [InlineData(99, "")]
    public void Tcp_states(byte state, string expected) =>
        Assert.Equal(expected, Encoding.ASCII.GetString(EventFormatting.TcpState(state)));

    [Fact]
    public void Text_from_the_kernel_becomes_valid_UTF8()
    {
        byte[] cut = [(byte)'c', 0xc3, (byte)'\n', 0xe2, 0x82]; // 'c', half of 'é', newline, two thirds of '€'
        Span<byte> buf = stackalloc byte[3 * cut.Length];
        Assert.Equal("c\uFFFD\n\uFFFD", Encoding.UTF8.GetString(buf[..EventFormatting.CopySanitized(cut, buf, forTerminal: false)]));
        Assert.Equal("c???", Encoding.UTF8.GetString(buf[..EventFormatting.CopySanitized(cut, buf, forTerminal: true)]));
        byte[] ok = Encoding.UTF8.GetBytes("café€");
        Assert.Equal("café€", Encoding.UTF8.GetString(buf[..EventFormatting.CopySanitized(ok, buf, forTerminal: true)]));
    }
}
