using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sysstream.Capture;
using Sysstream.Filters;
using Sysstream.Web;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>serve --capture</c>: the pipeline of <c>capture</c>, with serve's filters, writing into a
/// <see cref="CaptureWindow"/> instead of a file; the web server cuts pcapng files out of it.
/// </summary>
internal sealed class ServeCapture : ICaptureSource, IDisposable
{
    private readonly CapturePipeline _pipeline;
    private readonly CaptureWindow _window;
    private readonly OwnTraffic _own;

    private ServeCapture(CapturePipeline pipeline, CaptureWindow window, OwnTraffic own)
    {
        _pipeline = pipeline;
        _window = window;
        _own = own;
    }

    public TimeSpan Window => _window.Window;
    public long MaxBytes => _window.MaxBytes;
    public uint SnapLength => _pipeline.Capture.SnapLength;
    public IReadOnlyList<string> Attached => _pipeline.Attached;

    /// <summary>Completes when the capture's reader has ended (a failure: <see cref="Stop"/> reports it).</summary>
    public Task Ended => _pipeline.Ended;

    public static ServeCapture Start(TraceFilter filter, uint snapLength, TimeSpan window, long maxBytes, bool verbose)
    {
        var own = new OwnTraffic();
        var memory = new CaptureWindow(window, maxBytes) { Exclude = own.Matches };
        CapturePipeline pipeline = CapturePipeline.Start(new CapturePipelineOptions
        {
            Filter = filter,
            SnapLength = snapLength,
            Verbose = verbose,
            Arguments = RedactedArguments(Environment.GetCommandLineArgs().Skip(1)),
            Version = CaptureCommand.Version,
        }, memory.CreateStream);
        return new ServeCapture(pipeline, memory, own);
    }

    /// <summary>From now on, leaves out the packets of serve's own HTTP connections (to the
    /// address it is bound to): downloads would otherwise fill the window with copies of itself.</summary>
    public void LeaveOut(IPEndPoint served) => _own.Set(served, LocalAddresses());

    private static List<IPAddress> LocalAddresses()
    {
        var list = new List<IPAddress>();
        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var u in nic.GetIPProperties().UnicastAddresses)
                    list.Add(u.Address);
            }
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
        }
        return list;
    }

    /// <summary>TCP packets to or from the served address and port (any local address, loopback
    /// included, when serving on every address).</summary>
    internal sealed class OwnTraffic
    {
        private volatile Served? _served;

        private sealed record Served(ushort Port, bool Any, HashSet<UInt128> Addresses);

        public void Set(IPEndPoint endpoint, IEnumerable<IPAddress> localAddresses)
        {
            bool any = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any);
            var addresses = new HashSet<UInt128>((any ? localAddresses : [endpoint.Address]).Select(Key));
            _served = new Served((ushort)endpoint.Port, any, addresses);
        }

        public bool Matches(PacketTuple t)
        {
            Served? s = _served;
            if (s is null || t.Protocol != PacketTuple.Tcp)
                return false;
            return (t.SrcPort == s.Port && IsServed(s, t.Src)) || (t.DstPort == s.Port && IsServed(s, t.Dst));
        }

        private static bool IsServed(Served s, UInt128 address) => s.Addresses.Contains(address) || (s.Any && IsLoopback(address));

        private static bool IsLoopback(UInt128 a) => a == UInt128.One || ((a >> 32) == 0xffffUL && (uint)a >> 24 == 127);

        /// <summary>An address as <see cref="PacketTuple"/> holds it: IPv4 as ::ffff:a.b.c.d.</summary>
        public static UInt128 Key(IPAddress address)
        {
            if (address.IsIPv4MappedToIPv6)
                address = address.MapToIPv4();
            Span<byte> bytes = stackalloc byte[16];
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                address.TryWriteBytes(bytes, out _);
                return ((UInt128)0xffff << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes);
            }
            address.TryWriteBytes(bytes, out _);
            return BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }
    }

    /// <summary>The command line for the file's session block, without the value of --token:
    /// a downloaded file must not hand out access to the server.</summary>
    internal static string RedactedArguments(IEnumerable<string> args)
    {
        var shown = new List<string>();
        bool next = false;
        foreach (string a in args)
        {
            if (next)
            {
                shown.Add("REDACTED");
                next = false;
            }
            else if (a == "--token")
            {
                shown.Add(a);
                next = true;
            }
            else if (a.StartsWith("--token=", StringComparison.Ordinal))
            {
                shown.Add("--token=REDACTED");
            }
            else
            {
                shown.Add(a);
            }
        }
        return string.Join(' ', shown);
    }

    public ApiCapture Describe()
    {
        CaptureWindowStats s = _window.Stats;
        (ulong lostPackets, ulong lostSyscalls) = _pipeline.KernelLosses();
        return new ApiCapture
        {
            WindowS = Window.TotalSeconds,
            MaxBytes = MaxBytes,
            Snaplen = SnapLength,
            Syscalls = _pipeline.Trace is not null,
            HeldPackets = s.Packets,
            HeldBlocks = s.Blocks,
            HeldBytes = s.Bytes,
            Oldest = s.OldestUnixNs == 0 ? null
                : DateTime.UnixEpoch.AddTicks(s.OldestUnixNs / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            DroppedBlocks = s.DroppedBlocks,
            DroppedPackets = s.DroppedPackets,
            DroppedBytes = s.DroppedBytes,
            OwnPacketsLeftOut = s.ExcludedPackets,
            // Read on another thread than the recorder's: a counter, torn reads do not matter.
            Packets = Volatile.Read(ref _pipeline.Counters.Packets),
            LostPackets = lostPackets,
            LostSyscalls = lostSyscalls,
        };
    }

    public CaptureDownload? Cut(TimeSpan span)
    {
        CaptureWindowFile? f = _window.Cut(span);
        return f is null ? null : new CaptureDownload
        {
            Pcapng = f.Pcapng,
            CutAt = DateTime.UnixEpoch.AddTicks(f.ToUnixNs / 100),
            Host = Environment.MachineName,
            Packets = f.Packets,
            Incomplete = f.Incomplete,
        };
    }

    /// <summary>Detaches and drains; rethrows a failure of the reader.</summary>
    public void Stop() => _pipeline.Stop();

    public void Dispose() => _pipeline.Dispose();
}
