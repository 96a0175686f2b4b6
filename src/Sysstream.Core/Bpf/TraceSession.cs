using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>How a trace session is set up.</summary>
public sealed record TraceOptions
{
    public TraceFilter Filter { get; init; } = new();
    /// <summary>Show returns only: entry events are not even written to the ring buffer.</summary>
    public bool NoEnter { get; init; }
    /// <summary>Trace the processes added with <see cref="TraceSession.AddPid"/> and their descendants.</summary>
    public bool FollowChildren { get; init; }
    /// <summary>Ring buffer size in bytes: a power of two, at least one page.</summary>
    public uint RingBufferBytes { get; init; } = DefaultRingBufferBytes;
    /// <summary>Wake the reader once this many bytes are pending (else it polls on its timer).</summary>
    public ulong WakeupBytes { get; init; } = 256 * 1024;
    public bool Verbose { get; init; }

    public const uint DefaultRingBufferBytes = 16 * 1024 * 1024;
}

/// <summary>
/// The loaded and attached tracer: the BPF object with its knobs and filter maps set. The ring
/// buffer is read by <see cref="RingBufferReader"/>. Disposing detaches and unloads everything.
/// </summary>
public sealed class TraceSession : IDisposable
{
    private readonly BpfObject _obj;
    private readonly List<int> _cgroupFds = new();

    /// <summary>Hooks attached, as "tp_btf/sys_enter" etc.</summary>
    public IReadOnlyList<string> Attached { get; private set; } = [];

    /// <summary>The attach path in use, for the "attached" line and doctor.</summary>
    public const string AttachPath = "tp_btf (BTF raw tracepoints sys_enter/sys_exit)";

    internal BpfObject Object => _obj;
    public int RingBufferFd => _obj.MapFd("ss_events");

    private TraceSession(BpfObject obj) => _obj = obj;

    /// <summary>Checks the prerequisites, loads the programs with the filters, and attaches them.</summary>
    public static TraceSession Start(TraceOptions options)
    {
        Preflight.EnsureCanTrace();
        LibbpfLog.Install(options.Verbose);
        var obj = BpfObject.Open(BpfObject.EmbeddedImage());
        var session = new TraceSession(obj);
        try
        {
            session.Configure(options);
            obj.Load();
            session.FillFilterMaps(options.Filter);
            session.Attached = obj.AttachAll();
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private void Configure(TraceOptions o)
    {
        uint rb = o.RingBufferBytes;
        if (rb < 4096 || (rb & (rb - 1)) != 0)
            throw new SysstreamException($"bad ring buffer size {rb}: use a power of two of at least 4096 bytes", ExitCodes.Usage);
        _obj.SetMaxEntries("ss_events", rb);

        TraceFilter f = o.Filter;
        FilterFlags flags = 0;
        if (f.Pids.Count > 0 || o.FollowChildren) flags |= FilterFlags.Pid;
        if (f.Comms.Count > 0) flags |= FilterFlags.Comm;
        if (f.Uid is not null) flags |= FilterFlags.Uid;
        if (f.Ports.Count > 0) flags |= FilterFlags.Port;
        if (f.Addresses.Count > 0) flags |= FilterFlags.Addr;
        if (f.Family is not null) flags |= FilterFlags.Family;
        if (f.Protocol is not null) flags |= FilterFlags.Proto;
        if (f.CgroupPath is not null) flags |= FilterFlags.Cgroup;

        _obj.SetKnob("ss_filter_flags", (uint)flags);
        _obj.SetKnob("ss_filter_uid", f.Uid ?? 0u);
        _obj.SetKnob("ss_filter_family", f.Family ?? (ushort)0);
        _obj.SetKnob("ss_filter_proto", f.Protocol ?? (ushort)0);
        _obj.SetKnob("ss_self_pid", (uint)Environment.ProcessId);
        _obj.SetKnob("ss_no_enter", o.NoEnter ? (byte)1 : (byte)0);
        _obj.SetKnob("ss_wakeup_bytes", Math.Min(o.WakeupBytes, rb / 2));

        // Following children needs the scheduler hooks; otherwise they would cost for nothing.
        _obj.SetAutoload("ss_fork", o.FollowChildren);
        _obj.SetAutoload("ss_exit", o.FollowChildren);
    }

    private unsafe void FillFilterMaps(TraceFilter f)
    {
        foreach (int pid in f.Pids)
            _obj.UpdateElem("ss_pids", (uint)pid, (byte)PidFlags.Traced);
        foreach (string comm in f.Comms)
        {
            CommKey key = default;
            int n = Encoding.UTF8.GetBytes(comm, new Span<byte>(key.Bytes, 16));
            _obj.UpdateElem("ss_comms", key, (byte)1);
        }
        foreach (ushort port in f.Ports)
            _obj.UpdateElem("ss_ports", port, (byte)1);
        foreach (byte[] addr in f.Addresses)
        {
            AddrKey key = default;
            addr.CopyTo(new Span<byte>(key.Bytes, 16));
            _obj.UpdateElem("ss_addrs", key, (byte)1);
        }
        if (f.CgroupPath is not null)
        {
            int fd = Libc.open(f.CgroupPath, Libc.O_RDONLY | Libc.O_DIRECTORY);
            if (fd < 0)
                throw new SysstreamException($"opening cgroup {f.CgroupPath}: {SysstreamException.ErrnoName(Marshal.GetLastPInvokeError())}", ExitCodes.Usage);
            _cgroupFds.Add(fd);
            _obj.UpdateElem("ss_cgroup", 0u, (uint)fd);
        }
    }

    /// <summary>Adds a process (and, with FollowChildren, its future descendants) to the traced set.</summary>
    public void AddPid(int pid, bool followChildren)
    {
        byte flags = (byte)(PidFlags.Traced | (followChildren ? PidFlags.FollowChildren : 0));
        _obj.UpdateElem("ss_pids", (uint)pid, flags);
    }

    /// <summary>The kernel's per-CPU counters: records written and dropped.</summary>
    public Stats[] ReadStats() => _obj.LookupPerCpu<Stats>("ss_stats", 0);

    /// <summary>Detaches every program: no new events; what is in the ring buffer stays readable.</summary>
    public void Detach() => _obj.DetachAll();

    public void Dispose()
    {
        _obj.Dispose();
        foreach (int fd in _cgroupFds)
            Libc.close(fd);
        _cgroupFds.Clear();
    }

    private unsafe struct CommKey { public fixed byte Bytes[16]; }
    private unsafe struct AddrKey { public fixed byte Bytes[16]; }
}
