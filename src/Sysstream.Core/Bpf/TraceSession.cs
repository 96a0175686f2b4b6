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
    /// <summary>Only these system calls (empty: all), decided in the kernel at entry.</summary>
    public IReadOnlyList<Func> Syscalls { get; init; } = [];
    /// <summary>
    /// The packet capture whose owner bookkeeping the tracer's system-call hooks do as well
    /// (bpf/owners.bpf.h), so that the capture loads no system-call hooks of its own: one pair
    /// of hooks on every system call of the host instead of two. The capture's socket hooks give
    /// sockets their cookies, so the tracer loads no cookie hooks. The capture must have been
    /// started with <see cref="CaptureOptions.WithTracer"/>.
    /// </summary>
    public CaptureSession? OwnersFor { get; init; }

    public const uint DefaultRingBufferBytes = 16 * 1024 * 1024;
}

/// <summary>
/// The loaded and attached tracer: the BPF object with its knobs and filter maps set. The ring
/// buffer is read by <see cref="RingBufferReader"/>. Disposing detaches and unloads everything.
/// </summary>
public sealed class TraceSession : IDisposable
{
    private readonly BpfObject _obj;
    private readonly FilterSetup _filters = new();

    /// <summary>Hooks attached, as "tp_btf/sys_enter" etc.</summary>
    public IReadOnlyList<string> Attached { get; private set; } = [];

    /// <summary>The attach path in use, for the "attached" line and doctor.</summary>
    public const string AttachPath = "tp_btf (BTF raw tracepoints sys_enter/sys_exit)";

    internal BpfObject Object => _obj;

    /// <summary>The programs that only give sockets their cookies early.</summary>
    private static readonly string[] CookieHooks = ["ss_sock_state", "ss_sock_send", "ss_sock_recv"];

    public int RingBufferFd => _obj.MapFd("ss_events");

    private TraceSession(BpfObject obj) => _obj = obj;

    /// <summary>Checks the prerequisites, loads the programs with the filters, and attaches them.</summary>
    public static TraceSession Start(TraceOptions options)
    {
        Preflight.EnsureCanTrace();
        LibbpfLog.Install(options.Verbose);
        var obj = BpfObject.Open(BpfObject.EmbeddedImage(BpfObject.TraceObject));
        var session = new TraceSession(obj);
        try
        {
            session.Configure(options);
            obj.Load();
            session._filters.Fill(obj, options.Filter);
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
        FilterSetup.Configure(_obj, o.Filter, o.FollowChildren, Math.Min(o.WakeupBytes, rb / 2));
        _obj.SetKnob("ss_no_enter", o.NoEnter ? (byte)1 : (byte)0);
        uint mask = 0;
        foreach (Func f in o.Syscalls)
            mask |= 1u << (int)f;
        _obj.SetKnob("ss_func_mask", mask);
        if (o.OwnersFor is { } capture)
        {
            _obj.SetKnob("ss_track_owners", (byte)1);
            foreach (string prog in CookieHooks)
                _obj.SetAutoload(prog, false);
            foreach (string map in CaptureSession.OwnerMaps)
                _obj.ReuseMap(map, capture.MapFd(map));
            _obj.ReuseMap("ss_own_events", capture.RingBufferFd);
            _obj.ReuseMap("ss_own_stats", capture.MapFd("ss_stats"));
        }
        else
        {
            // unused without a capture: no need for their full size in kernel memory
            foreach (string map in CaptureSession.OwnerMaps)
                if (map != "ss_cap_tasks")
                    _obj.SetMaxEntries(map, 64);
        }
    }

    /// <summary>Adds a process (and, with FollowChildren, its future descendants) to the traced set.</summary>
    public void AddPid(int pid, bool followChildren) => FilterSetup.AddPid(_obj, pid, followChildren);

    /// <summary>The kernel's per-CPU counters: records written and dropped.</summary>
    public Stats[] ReadStats() => _obj.LookupPerCpu<Stats>("ss_stats", 0);

    /// <summary>Detaches every program: no new events; what is in the ring buffer stays readable.</summary>
    public void Detach() => _obj.DetachAll();

    public void Dispose()
    {
        _obj.Dispose();
        _filters.Dispose();
    }
}
