using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Sysstream.Events;

// Hand-written helpers beside the generated layouts of the capture records (Generated.cs).

public unsafe partial struct SockOwner
{
    /// <summary>The thread's name, up to its NUL.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> CommSpan => SyscallEvent.UntilNul(MemoryMarshal.CreateReadOnlySpan(in Comm[0], 16));

    /// <summary>The parent's name, up to its NUL.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> PcommSpan => SyscallEvent.UntilNul(MemoryMarshal.CreateReadOnlySpan(in Pcomm[0], 16));

    /// <summary>The system call that last used the socket (<see cref="Func.None"/> when not a system call).</summary>
    public readonly Func FuncKind => (Func)Func;

    public readonly bool IsMatched => Matched != 0;
}

public partial struct PacketEvent
{
    /// <summary>Sent by a local socket (egress) or delivered to one (ingress).</summary>
    public readonly bool IsEgress => Dir == (byte)PacketDir.Egress;

    /// <summary>The kernel copied the socket's owner into <see cref="Owner"/>.</summary>
    public readonly bool HasOwner => (Flags & (byte)PacketFlags.Owner) != 0;

    /// <summary><see cref="Netns"/> holds the device's network namespace.</summary>
    public readonly bool HasNetns => (Flags & (byte)PacketFlags.Netns) != 0;
}

public unsafe partial struct ProcEvent
{
    /// <summary>SS_CMDLINE_LEN: the kernel's copy of the arguments is cut here.</summary>
    public const int CmdlineLength = 256;

    /// <summary>SS_CGROUP_DEPTH and SS_CGROUP_NAME_LEN: the names of the cgroup path, leaf first.</summary>
    public const int CgroupDepthMax = 8, CgroupNameLength = 64;

    /// <summary>The NUL-separated arguments (CmdlineLen bytes are valid).</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> CmdlineSpan => MemoryMarshal.CreateReadOnlySpan(in Cmdline[0], CmdlineLength);

    /// <summary>The cgroup v2 path, "/" for the root; "/..." in front when its top was cut.</summary>
    public readonly string CgroupPath()
    {
        int depth = Math.Min((int)CgroupDepth, CgroupDepthMax);
        if (depth == 0)
            return "/";
        ReadOnlySpan<byte> all = MemoryMarshal.CreateReadOnlySpan(in Cgroup[0], CgroupDepthMax * CgroupNameLength);
        var sb = new System.Text.StringBuilder(CgroupCut != 0 ? "/..." : "");
        for (int i = depth - 1; i >= 0; i--)
        {
            sb.Append('/');
            sb.Append(System.Text.Encoding.UTF8.GetString(SyscallEvent.UntilNul(all.Slice(i * CgroupNameLength, CgroupNameLength))));
        }
        return sb.ToString();
    }
}
