using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sysstream.Filters;

/// <summary>
/// What to trace, as the kernel applies it. Kinds are ANDed, values within a kind ORed.
/// Built from command-line values by <see cref="Parse"/>, which rejects bad input with one line.
/// </summary>
public sealed record TraceFilter
{
    public IReadOnlyList<int> Pids { get; init; } = [];
    public IReadOnlyList<string> Comms { get; init; } = [];
    public uint? Uid { get; init; }
    public IReadOnlyList<ushort> Ports { get; init; } = [];
    /// <summary>16-byte addresses, IPv4 as ::ffff:a.b.c.d (the kernel's form).</summary>
    public IReadOnlyList<byte[]> Addresses { get; init; } = [];
    /// <summary>AF_INET (2), AF_INET6 (10) or AF_UNIX (1).</summary>
    public ushort? Family { get; init; }
    /// <summary>IPPROTO_TCP (6) or IPPROTO_UDP (17).</summary>
    public ushort? Protocol { get; init; }
    public string? CgroupPath { get; init; }

    public bool IsEmpty => Pids.Count == 0 && Comms.Count == 0 && Uid is null && Ports.Count == 0
        && Addresses.Count == 0 && Family is null && Protocol is null && CgroupPath is null;

    public static TraceFilter Parse(IEnumerable<int>? pids = null, IEnumerable<string>? comms = null,
        string? uid = null, IEnumerable<int>? ports = null, IEnumerable<string>? addrs = null,
        string? family = null, string? proto = null, string? cgroup = null)
    {
        var filter = new TraceFilter
        {
            Pids = (pids ?? []).Select(ParsePid).ToArray(),
            Comms = (comms ?? []).Select(ParseComm).ToArray(),
            Uid = uid is null ? null : ParseUid(uid),
            Ports = (ports ?? []).Select(ParsePort).ToArray(),
            Addresses = (addrs ?? []).Select(ParseAddress).ToArray(),
            Family = family is null ? null : ParseFamily(family),
            Protocol = proto is null ? null : ParseProtocol(proto),
            CgroupPath = cgroup is null ? null : ResolveCgroup(cgroup),
        };
        return filter;
    }

    private static SysstreamException Bad(string what) => new(what, ExitCodes.Usage);

    private static int ParsePid(int pid) => pid > 0 ? pid : throw Bad($"bad --pid {pid}: a process id is a positive number");

    private static ushort ParsePort(int port) =>
        port is > 0 and <= 65535 ? (ushort)port : throw Bad($"bad --port {port}: a port is 1-65535");

    private static string ParseComm(string comm)
    {
        if (comm.Length == 0)
            throw Bad("bad --comm: empty name");
        // The kernel keeps 15 bytes of a task's name.
        byte[] bytes = Encoding.UTF8.GetBytes(comm);
        return bytes.Length <= 15 ? comm : Encoding.UTF8.GetString(bytes, 0, 15);
    }

    private static uint ParseUid(string uid)
    {
        if (uint.TryParse(uid, out uint n))
            return n;
        foreach (string line in File.Exists("/etc/passwd") ? File.ReadLines("/etc/passwd") : [])
        {
            string[] f = line.Split(':');
            if (f.Length > 2 && f[0] == uid && uint.TryParse(f[2], out n))
                return n;
        }
        throw Bad($"bad --uid {uid}: not a number and not a user in /etc/passwd");
    }

    /// <summary>Accepts IPv4 or IPv6 text; returns the 16-byte form the kernel stores.</summary>
    public static byte[] ParseAddress(string text)
    {
        string t = text.Trim('[', ']');
        if (!IPAddress.TryParse(t, out IPAddress? ip))
            throw Bad($"bad --addr {text}: not an IPv4 or IPv6 address");
        if (ip.AddressFamily == AddressFamily.InterNetwork || ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv6();
        return ip.GetAddressBytes();
    }

    private static ushort ParseFamily(string family) => family.ToLowerInvariant() switch
    {
        "4" or "inet" or "ipv4" => 2,
        "6" or "inet6" or "ipv6" => 10,
        "unix" or "local" => 1,
        _ => throw Bad($"bad --family {family}: use 4, 6 or unix"),
    };

    private static ushort ParseProtocol(string proto) => proto.ToLowerInvariant() switch
    {
        "tcp" => 6,
        "udp" => 17,
        _ => throw Bad($"bad --proto {proto}: use tcp or udp"),
    };

    /// <summary>The cgroup v2 hierarchy here may be mounted at /sys/fs/cgroup/unified (hybrid layout).</summary>
    public static string? CgroupRoot()
    {
        foreach (string line in File.Exists("/proc/self/mounts") ? File.ReadLines("/proc/self/mounts") : [])
        {
            string[] f = line.Split(' ');
            if (f.Length > 2 && f[2] == "cgroup2")
                return f[1];
        }
        return null;
    }

    private static string ResolveCgroup(string path)
    {
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, "cgroup.procs")))
            return Path.GetFullPath(path);
        string? root = CgroupRoot();
        if (root is not null)
        {
            string inRoot = Path.Combine(root, path.TrimStart('/'));
            if (Directory.Exists(inRoot))
                return inRoot;
        }
        throw Bad($"bad --cgroup {path}: no such cgroup v2 directory" + (root is null ? " (no cgroup2 mount)" : $" (looked in {root})"));
    }
}
