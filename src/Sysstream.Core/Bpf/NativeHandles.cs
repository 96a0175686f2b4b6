using Microsoft.Win32.SafeHandles;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>An opened (and maybe loaded) BPF object: closing it unloads its programs and maps.</summary>
internal sealed class BpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public BpfObjectHandle() : base(ownsHandle: true) { }
    public BpfObjectHandle(nint h) : base(ownsHandle: true) => SetHandle(h);
    protected override bool ReleaseHandle()
    {
        Libbpf.bpf_object__close(handle);
        return true;
    }
}

/// <summary>An attached program: destroying the link detaches it.</summary>
internal sealed class BpfLinkHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public BpfLinkHandle(nint h) : base(ownsHandle: true) => SetHandle(h);
    protected override bool ReleaseHandle() => Libbpf.bpf_link__destroy(handle) == 0;
}

/// <summary>libbpf's ring-buffer consumer (its mmap of the map and its epoll set).</summary>
internal sealed class RingBufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public RingBufferHandle(nint h) : base(ownsHandle: true) => SetHandle(h);
    protected override bool ReleaseHandle()
    {
        Libbpf.ring_buffer__free(handle);
        return true;
    }
}
