using System.Runtime.InteropServices;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>How a packet capture session is set up.</summary>
public sealed record CaptureOptions
{
    public TraceFilter Filter { get; init; } = new();
    /// <summary>Capture the processes added with <see cref="CaptureSession.AddPid"/> and their descendants.</summary>
    public bool FollowChildren { get; init; }
    /// <summary>Bytes kept of each packet; at most <see cref="CaptureSession.MaxSnapLength"/>.</summary>
    public uint SnapLength { get; init; } = CaptureSession.MaxSnapLength;
    /// <summary>Ring buffer size in bytes: a power of two, at least 64 KiB.</summary>
    public uint RingBufferBytes { get; init; } = TraceOptions.DefaultRingBufferBytes;
    /// <summary>Wake the reader once this many bytes are pending (else it polls on its timer).</summary>
    public ulong WakeupBytes { get; init; } = 256 * 1024;
    public bool Verbose { get; init; }
    /// <summary>A tracer started with <see cref="TraceOptions.OwnersFor"/> runs beside: it does
    /// the owner bookkeeping at system calls (this object loads no system-call hooks), and this
    /// object's socket hooks give sockets their cookies for it.</summary>
    public bool WithTracer { get; init; }
}

/// <summary>
/// The loaded and attached packet hooks (bpf/capture.bpf.c): cgroup_skb ingress and egress on the
/// cgroup v2 root, and the hooks that record which process last used each socket. The ring buffer
/// is read with <see cref="RingSetReader"/>. Disposing detaches and unloads everything.
/// </summary>
public sealed class CaptureSession : IDisposable
{
    public const string CaptureObject = "capture.bpf.o";

    /// <summary>The largest snap length: the biggest record the programs reserve (SS_CAP_MAX).</summary>
    public const uint MaxSnapLength = 256 * 1024;

    /// <summary>Bytes of a record around the packet: ss_packet_event and the ring's own header.</summary>
    private const uint RecordOverhead = 128 + 8;

    private readonly BpfObject _obj;
    private readonly FilterSetup _filters = new();
    private int _cgroupFd = -1;

    /// <summary>Hooks attached, as "cgroup_skb/ingress" etc.</summary>
    public IReadOnlyList<string> Attached { get; private set; } = [];

    /// <summary>The cgroup v2 directory the packet hooks are attached to.</summary>
    public string CgroupRoot { get; private set; } = "";

    /// <summary>The snap length in effect (the requested one, lowered to fit the ring buffer).</summary>
    public uint SnapLength { get; private set; }

    public int RingBufferFd => _obj.MapFd("ss_events");

    /// <summary>The maps of the owner bookkeeping (bpf/owners.bpf.h) that a tracer doing it shares.</summary>
    internal static readonly string[] OwnerMaps = ["ss_owners", "ss_cap_procs", "ss_cap_tasks"];

    internal int MapFd(string mapName) => _obj.MapFd(mapName);

    private CaptureSession(BpfObject obj) => _obj = obj;

    /// <summary>Checks the prerequisites, loads the programs with the filters, and attaches them.</summary>
    public static CaptureSession Start(CaptureOptions options)
    {
        Preflight.EnsureCanTrace();
        string root = FindCgroup2Root();
        LibbpfLog.Install(options.Verbose);
        var obj = BpfObject.Open(BpfObject.EmbeddedImage(CaptureObject));
        var session = new CaptureSession(obj) { CgroupRoot = root };
        try
        {
            session.Configure(options);
            obj.Load();
            session._filters.Fill(obj, options.Filter);
            session._cgroupFd = Libc.open(root, Libc.O_RDONLY | Libc.O_DIRECTORY);
            if (session._cgroupFd < 0)
                throw SysstreamException.FromErrno($"opening the cgroup v2 root {root}", Marshal.GetLastPInvokeError());
            // The packet hooks by hand (libbpf cannot attach cgroup programs by section name),
            // then the owner hooks and, when following a command, the fork/exit hooks.
            var attached = new List<string>
            {
                obj.AttachCgroup("ss_cap_ingress", session._cgroupFd),
                obj.AttachCgroup("ss_cap_egress", session._cgroupFd),
            };
            attached.AddRange(obj.AttachAll());
            session.Attached = attached;
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private void Configure(CaptureOptions o)
    {
        uint rb = o.RingBufferBytes;
        if (rb < 65536 || (rb & (rb - 1)) != 0)
            throw new SysstreamException($"bad ring buffer size {rb}: use a power of two of at least 65536 bytes", ExitCodes.Usage);
        if (o.SnapLength == 0 || o.SnapLength > MaxSnapLength)
            throw new SysstreamException($"bad snap length {o.SnapLength}: use 1 to {MaxSnapLength} bytes", ExitCodes.Usage);
        SnapLength = EffectiveSnapLength(o.SnapLength, rb);
        _obj.SetMaxEntries("ss_events", rb);
        FilterSetup.Configure(_obj, o.Filter, o.FollowChildren, Math.Min(o.WakeupBytes, rb / 2));
        _obj.SetKnob("ss_snaplen", SnapLength);
        if (o.WithTracer)
        {
            _obj.SetAutoload("ss_cap_enter", false);
            _obj.SetAutoload("ss_cap_exit", false);
            _obj.SetKnob("ss_cap_cookies", (byte)1);
        }
    }

    /// <summary>
    /// The programs reserve a record of the smallest fixed capacity (128 bytes, doubling up to
    /// 256 KiB) that holds the packet's bytes; a record must fit in half of the ring buffer, so a
    /// small ring lowers the snap length.
    /// </summary>
    public static uint EffectiveSnapLength(uint requested, uint ringBytes)
    {
        uint snap = Math.Min(requested, MaxSnapLength);
        while (snap > 128 && Capacity(snap) + RecordOverhead > ringBytes / 2)
            snap = Capacity(snap) / 2;
        return snap;
    }

    /// <summary>The record capacity the programs choose for a packet of n bytes.</summary>
    public static uint Capacity(uint n)
    {
        uint cap = 128;
        while (cap < n && cap < MaxSnapLength)
            cap *= 2;
        return cap;
    }

    /// <summary>The cgroup v2 mount (the root of the hierarchy) from /proc/self/mounts.</summary>
    public static string FindCgroup2Root()
    {
        string mounts;
        try
        {
            mounts = File.ReadAllText("/proc/self/mounts");
        }
        catch (IOException ex)
        {
            throw new SysstreamException($"reading /proc/self/mounts: {ex.Message}", ExitCodes.Unavailable);
        }
        return Features.FindMountOfType(mounts, "cgroup2")
            ?? throw new SysstreamException("no cgroup v2 hierarchy is mounted: the packet hooks attach to its root",
                ExitCodes.Unavailable, "mount it: mount -t cgroup2 none /sys/fs/cgroup/unified");
    }

    /// <summary>Adds a process (and, with FollowChildren, its future descendants) to the captured set.</summary>
    public void AddPid(int pid, bool followChildren) => FilterSetup.AddPid(_obj, pid, followChildren);

    /// <summary>The process that last used the socket with this cookie, as the kernel knows it now.</summary>
    public unsafe bool TryGetOwner(ulong cookie, out SockOwner owner)
    {
        owner = default;
        if (cookie == 0)
            return false;
        SockOwner value;
        if (Libbpf.bpf_map_lookup_elem(_obj.MapFd("ss_owners"), &cookie, &value) != 0)
            return false;
        owner = value;
        return true;
    }

    /// <summary>The kernel's per-CPU counters: records written and dropped.</summary>
    public Stats[] ReadStats() => _obj.LookupPerCpu<Stats>("ss_stats", 0);

    /// <summary>Detaches every program: no new packets; what is in the ring buffer stays readable.</summary>
    public void Detach() => _obj.DetachAll();

    public void Dispose()
    {
        _obj.Dispose();
        _filters.Dispose();
        if (_cgroupFd >= 0)
        {
            Libc.close(_cgroupFd);
            _cgroupFd = -1;
        }
    }
}
