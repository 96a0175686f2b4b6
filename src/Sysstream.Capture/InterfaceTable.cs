using System.Globalization;
using Sysstream.Capture.Pcapng;

namespace Sysstream.Capture;

/// <summary>
/// The pcapng interfaces of a capture: one per network device a packet was seen on, keyed by
/// (network namespace, ifindex) because ifindexes repeat across namespaces. An Interface
/// Description Block is written the first time a device shows up. Names come from
/// /sys/class/net for sysstream's own namespace, and named namespaces from /run/netns.
/// </summary>
public sealed class InterfaceTable
{
    private readonly PcapngWriter _writer;
    private readonly uint _snapLength;
    private readonly uint _ownNetns;
    private readonly string _root;
    private readonly Dictionary<(uint Netns, uint Ifindex), int> _ids = new();
    private Dictionary<uint, string>? _names;
    private Dictionary<uint, string>? _netnsNames;

    /// <param name="ownNetns">sysstream's network namespace inode (0: unknown).</param>
    /// <param name="root">File system root ("/"; tests pass a fixture tree).</param>
    public InterfaceTable(PcapngWriter writer, uint snapLength, uint ownNetns, string root = "/")
    {
        _writer = writer;
        _snapLength = snapLength;
        _ownNetns = ownNetns;
        _root = root;
    }

    public int Count => _ids.Count;

    /// <summary>The interface id for a device; writes its description block the first time.</summary>
    public int Get(uint netns, uint ifindex)
    {
        if (netns == 0)
            netns = _ownNetns;
        if (_ids.TryGetValue((netns, ifindex), out int id))
            return id;
        (string name, string description) = Describe(netns, ifindex);
        id = _writer.BeginInterface(LinkType.Raw, _snapLength);
        _writer.AddStringOption(OptionCode.IfName, name);
        _writer.AddStringOption(OptionCode.IfDescription, description);
        _writer.AddUInt8Option(OptionCode.IfTsResol, 9); // nanoseconds
        _writer.EndBlock();
        _ids[(netns, ifindex)] = id;
        return id;
    }

    private (string Name, string Description) Describe(uint netns, uint ifindex)
    {
        string ns = netns.ToString(CultureInfo.InvariantCulture);
        if (netns == _ownNetns || netns == 0)
        {
            string? name = DeviceName(ifindex);
            return (name ?? $"if{ifindex}",
                $"ifindex {ifindex} in sysstream's network namespace ({ns}); IP packets of local sockets, seen by cgroup_skb hooks");
        }
        string? nsName = NetnsName(netns);
        return ($"if{ifindex}" + (nsName is null ? $"@netns{ns}" : $"@{nsName}"),
            $"ifindex {ifindex} in network namespace {ns}{(nsName is null ? "" : $" ({nsName})")}; IP packets of local sockets, seen by cgroup_skb hooks");
    }

    /// <summary>The name of a device of sysstream's own namespace (re-read on a miss: devices come and go).</summary>
    private string? DeviceName(uint ifindex)
    {
        if (_names is null || !_names.ContainsKey(ifindex))
            _names = ReadDeviceNames(Path.Combine(_root, "sys/class/net"));
        return _names.TryGetValue(ifindex, out string? n) ? n : null;
    }

    public static Dictionary<uint, string> ReadDeviceNames(string classNet)
    {
        var names = new Dictionary<uint, string>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories(classNet))
            {
                try
                {
                    string text = File.ReadAllText(Path.Combine(dir, "ifindex")).Trim();
                    if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint idx))
                        names.TryAdd(idx, Path.GetFileName(dir));
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return names;
    }

    /// <summary>The name `ip netns` gave a namespace (a bind mount under /run/netns), if any.</summary>
    private string? NetnsName(uint netns)
    {
        if (_netnsNames is null || !_netnsNames.ContainsKey(netns))
        {
            _netnsNames = new Dictionary<uint, string>();
            try
            {
                foreach (string file in Directory.EnumerateFiles(Path.Combine(_root, "run/netns")))
                {
                    if (NetnsInode.Of(file) is { } inode)
                        _netnsNames.TryAdd(inode, Path.GetFileName(file));
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return _netnsNames.TryGetValue(netns, out string? n) ? n : null;
    }
}

/// <summary>Network namespace inode numbers, as the kernel reports them in events.</summary>
public static class NetnsInode
{
    /// <summary>The inode of a namespace file (/proc/self/ns/net, /run/netns/NAME), from the
    /// link text "net:[4026531840]" or, for bind mounts, from /proc/self/mountinfo; null if unknown.</summary>
    public static uint? Of(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
                return Parse(target);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        // A named namespace is a bind mount of nsfs: mountinfo gives "net:[N]" as its root.
        try
        {
            foreach (string line in File.ReadLines("/proc/self/mountinfo"))
            {
                string[] f = line.Split(' ');
                if (f.Length > 4 && f[4] == path && Parse(f[3]) is { } inode)
                    return inode;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>sysstream's own network namespace.</summary>
    public static uint Own() => Of("/proc/self/ns/net") ?? 0;

    public static uint? Parse(string text)
    {
        int open = text.IndexOf('['), close = text.IndexOf(']');
        return open >= 0 && close > open
            && uint.TryParse(text.AsSpan(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint n)
            ? n : null;
    }
}
