using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>
/// Applies a <see cref="TraceFilter"/> to any BPF object that includes bpf/filter.bpf.h: the knobs
/// before load, the maps after. Also sets the knobs of bpf/common.bpf.h.
/// </summary>
internal sealed class FilterSetup : IDisposable
{
    private readonly List<int> _cgroupFds = new();

    /// <summary>Before load: filter knobs, the process's own pid (never traced), and whether the
    /// fork/exit hooks that follow children are loaded at all.</summary>
    public static void Configure(BpfObject obj, TraceFilter f, bool followChildren, ulong wakeupBytes)
    {
        FilterFlags flags = 0;
        if (f.Pids.Count > 0 || followChildren) flags |= FilterFlags.Pid;
        if (f.Comms.Count > 0) flags |= FilterFlags.Comm;
        if (f.Uid is not null) flags |= FilterFlags.Uid;
        if (f.Ports.Count > 0) flags |= FilterFlags.Port;
        if (f.Addresses.Count > 0) flags |= FilterFlags.Addr;
        if (f.Family is not null) flags |= FilterFlags.Family;
        if (f.Protocol is not null) flags |= FilterFlags.Proto;
        if (f.CgroupPath is not null) flags |= FilterFlags.Cgroup;

        obj.SetKnob("ss_filter_flags", (uint)flags);
        obj.SetKnob("ss_filter_uid", f.Uid ?? 0u);
        obj.SetKnob("ss_filter_family", f.Family ?? (ushort)0);
        obj.SetKnob("ss_filter_proto", f.Protocol ?? (ushort)0);
        obj.SetKnob("ss_self_pid", (uint)Environment.ProcessId);
        obj.SetKnob("ss_wakeup_bytes", wakeupBytes);
        // Following children needs the scheduler hooks; otherwise they would cost for nothing.
        obj.SetAutoload("ss_fork", followChildren);
        obj.SetAutoload("ss_exit", followChildren);
    }

    /// <summary>After load: the pid, comm, port, address and cgroup maps.</summary>
    public unsafe void Fill(BpfObject obj, TraceFilter f)
    {
        foreach (int pid in f.Pids)
            obj.UpdateElem("ss_pids", (uint)pid, (byte)PidFlags.Traced);
        foreach (string comm in f.Comms)
        {
            Key16 key = default;
            Encoding.UTF8.GetBytes(comm, new Span<byte>(key.Bytes, 16));
            obj.UpdateElem("ss_comms", key, (byte)1);
        }
        foreach (ushort port in f.Ports)
            obj.UpdateElem("ss_ports", port, (byte)1);
        foreach (byte[] addr in f.Addresses)
        {
            Key16 key = default;
            addr.CopyTo(new Span<byte>(key.Bytes, 16));
            obj.UpdateElem("ss_addrs", key, (byte)1);
        }
        if (f.CgroupPath is not null)
        {
            int fd = Libc.open(f.CgroupPath, Libc.O_RDONLY | Libc.O_DIRECTORY);
            if (fd < 0)
                throw new SysstreamException($"opening cgroup {f.CgroupPath}: {SysstreamException.ErrnoName(Marshal.GetLastPInvokeError())}", ExitCodes.Usage);
            _cgroupFds.Add(fd);
            obj.UpdateElem("ss_cgroup", 0u, (uint)fd);
        }
    }

    /// <summary>Adds a process (and, when following, its future descendants) to the traced set.</summary>
    public static void AddPid(BpfObject obj, int pid, bool followChildren)
    {
        byte flags = (byte)(PidFlags.Traced | (followChildren ? PidFlags.FollowChildren : 0));
        obj.UpdateElem("ss_pids", (uint)pid, flags);
    }

    public void Dispose()
    {
        foreach (int fd in _cgroupFds)
            Libc.close(fd);
        _cgroupFds.Clear();
    }

    private unsafe struct Key16 { public fixed byte Bytes[16]; }
}
