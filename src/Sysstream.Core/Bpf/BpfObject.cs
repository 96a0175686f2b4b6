using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>
/// The embedded BPF object: open from memory, set knobs and map sizes, load, attach.
/// Owns its links; disposing detaches every program, then closes (unloads) the object.
/// </summary>
internal sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _obj;
    private readonly byte[] _image;
    private GCHandle _imagePin;
    private readonly List<(string Name, BpfLinkHandle Link)> _links = new();
    private bool _loaded;
    private readonly HashSet<nint> _attachedApart = new();

    public const string TraceObject = "trace.bpf.o";

    private BpfObject(BpfObjectHandle obj, byte[] image, GCHandle pin)
    {
        _obj = obj;
        _image = image;
        _imagePin = pin;
    }

    /// <summary>The bytes of the committed object, embedded in this assembly.</summary>
    
    /// <summary>The bytes of another committed object embedded in this assembly (e.g. "probe.bpf.o").</summary>
    public static byte[] EmbeddedImage(string resourceName)
    {
        using Stream? s = typeof(BpfObject).Assembly.GetManifestResourceStream(resourceName)
            ?? throw new SysstreamException($"the BPF object {resourceName} is not embedded in this build", ExitCodes.Software);
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    public static BpfObject Open(byte[] image)
    {
        var pin = GCHandle.Alloc(image, GCHandleType.Pinned);
        byte* name = stackalloc byte[] { (byte)'s', (byte)'y', (byte)'s', (byte)'s', (byte)'t', (byte)'r', (byte)'e', (byte)'a', (byte)'m', 0 };
        var opts = new Libbpf.bpf_object_open_opts { sz = (nuint)sizeof(Libbpf.bpf_object_open_opts), object_name = name };
        nint obj = Libbpf.bpf_object__open_mem((void*)pin.AddrOfPinnedObject(), (nuint)image.Length, &opts);
        if (obj == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            pin.Free();
            throw SysstreamException.FromErrno("opening the embedded BPF object", errno);
        }
        return new BpfObject(new BpfObjectHandle(obj), image, pin);
    }

    private nint Raw => _obj.DangerousGetHandle();

    /// <summary>Sets a <c>const volatile</c> global in .rodata before load, found by name in the object's BTF.</summary>
    public void SetKnob<T>(string name, T value) where T : unmanaged
    {
        if (_loaded)
            throw new InvalidOperationException("knobs are read-only after load");
        (nint map, uint offset, uint size) = FindRodataVar(name);
        if (size != (uint)sizeof(T))
            throw new InvalidOperationException($"BPF knob {name} is {size} bytes, not {sizeof(T)}");
        nuint mapSize;
        byte* data = (byte*)Libbpf.bpf_map__initial_value(map, &mapSize);
        if (data == null || offset + size > mapSize)
            throw new InvalidOperationException($"BPF knob {name}: .rodata is not writable");
        *(T*)(data + offset) = value;
    }

    private (nint Map, uint Offset, uint Size) FindRodataVar(string name)
    {
        nint map = 0;
        for (nint m = Libbpf.bpf_object__next_map(Raw, 0); m != 0; m = Libbpf.bpf_object__next_map(Raw, m))
        {
            if (Utf8(Libbpf.bpf_map__name(m)).EndsWith(".rodata", StringComparison.Ordinal))
            {
                map = m;
                break;
            }
        }
        nint btf = Libbpf.bpf_object__btf(Raw);
        if (map == 0 || btf == 0)
            throw new InvalidOperationException("the BPF object has no .rodata or no BTF");
        byte* sec = stackalloc byte[] { (byte)'.', (byte)'r', (byte)'o', (byte)'d', (byte)'a', (byte)'t', (byte)'a', 0 };
        int id = Libbpf.btf__find_by_name_kind(btf, sec, Libbpf.BTF_KIND_DATASEC);
        if (id <= 0)
            throw new InvalidOperationException("no .rodata section in the BPF object's BTF");
        Libbpf.btf_type* t = Libbpf.btf__type_by_id(btf, (uint)id);
        var vars = (Libbpf.btf_var_secinfo*)(t + 1);
        int vlen = (int)(t->info & 0xffff);
        for (int i = 0; i < vlen; i++)
        {
            Libbpf.btf_type* v = Libbpf.btf__type_by_id(btf, vars[i].type);
            if (Utf8(Libbpf.btf__name_by_offset(btf, v->name_off)) == name)
                return (map, vars[i].offset, vars[i].size);
        }
        throw new InvalidOperationException($"no BPF knob named {name}");
    }

    public void SetMaxEntries(string mapName, uint entries)
    {
        int err = Libbpf.bpf_map__set_max_entries(FindMap(mapName), entries);
        if (err != 0)
            throw SysstreamException.FromErrno($"sizing BPF map {mapName} to {entries}", err);
    }

    /// <summary>Before load: makes the map this object's name for an existing map (another
    /// object's, given by its fd), so both objects' programs share it.</summary>
    public void ReuseMap(string mapName, int fd)
    {
        int err = Libbpf.bpf_map__reuse_fd(FindMap(mapName), fd);
        if (err != 0)
            throw SysstreamException.FromErrno($"sharing BPF map {mapName}", err);
    }

    public void SetAutoload(string progName, bool autoload)
    {
        nint prog = Libbpf.bpf_object__find_program_by_name(Raw, progName);
        if (prog == 0)
            throw new InvalidOperationException($"no BPF program named {progName}");
        Libbpf.bpf_program__set_autoload(prog, autoload);
    }

    /// <summary>Sets a program's type and attach type before load (a section this libbpf may not know).</summary>
    public void SetProgramType(string progName, int progType, int attachType)
    {
        nint prog = Libbpf.bpf_object__find_program_by_name(Raw, progName);
        if (prog == 0)
            throw new InvalidOperationException($"no BPF program named {progName}");
        Libbpf.bpf_program__set_type(prog, progType);
        Libbpf.bpf_program__set_expected_attach_type(prog, attachType);
    }

    /// <summary>
    /// Whether the kernel loads a cgroup sock_addr program for this attach type: a two-instruction
    /// program ("return 1") loaded and closed at once. The kernel checks the attach type at load.
    /// </summary>
    public static bool KernelHasSockAddrHook(int attachType)
    {
        // mov r0, 1; exit
        ulong* insns = stackalloc ulong[] { 0xb7UL | (1UL << 32), 0x95UL };
        byte* license = stackalloc byte[] { (byte)'G', (byte)'P', (byte)'L', 0 };
        var opts = new Libbpf.bpf_prog_load_opts { sz = (nuint)sizeof(Libbpf.bpf_prog_load_opts), expected_attach_type = attachType };
        int fd = Libbpf.bpf_prog_load(Libbpf.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, null, license, insns, 2, &opts);
        if (fd < 0)
            return false;
        Libc.close(fd);
        return true;
    }

    public void Load()
    {
        int err = Libbpf.bpf_object__load(Raw);
        if (err != 0)
        {
            string[] log = LibbpfLog.Recent();
            string? reason = log.LastOrDefault(l => l.Length > 0 && !l.StartsWith("libbpf: -- END", StringComparison.Ordinal));
            var ex = SysstreamException.FromErrno("loading the BPF programs" + (reason is null ? "" : $" ({reason.Trim()})"), err);
            throw ex;
        }
        _loaded = true;
    }

    /// <summary>Attaches every program marked for loading, in object order. Returns "kind/hook" names.</summary>
    public IReadOnlyList<string> AttachAll()
    {
        var attached = new List<string>();
        for (nint p = Libbpf.bpf_object__next_program(Raw, 0); p != 0; p = Libbpf.bpf_object__next_program(Raw, p))
        {
            if (!Libbpf.bpf_program__autoload(p) || _attachedApart.Contains(p))
                continue;
            string section = Utf8(Libbpf.bpf_program__section_name(p));
            nint link = Libbpf.bpf_program__attach(p);
            if (link == 0)
                throw SysstreamException.FromErrno($"attaching {section}", Marshal.GetLastPInvokeError());
            _links.Add((section, new BpfLinkHandle(link)));
            attached.Add(section);
        }
        return attached;
    }

    /// <summary>Attaches one program to a cgroup v2 directory open as <paramref name="cgroupFd"/>
    /// (cgroup_skb and other cgroup hooks, which libbpf cannot attach by section name). It is
    /// detached with the others, and <see cref="AttachAll"/> leaves it alone.</summary>
    public string AttachCgroup(string progName, int cgroupFd)
    {
        nint prog = Libbpf.bpf_object__find_program_by_name(Raw, progName);
        if (prog == 0)
            throw new InvalidOperationException($"no BPF program named {progName}");
        string section = Utf8(Libbpf.bpf_program__section_name(prog));
        nint link = Libbpf.bpf_program__attach_cgroup(prog, cgroupFd);
        if (link == 0)
            throw SysstreamException.FromErrno($"attaching {section}", Marshal.GetLastPInvokeError());
        _links.Add((section, new BpfLinkHandle(link)));
        _attachedApart.Add(prog);
        return section;
    }

    /// <summary>Attaches an iterator program over the map open as <paramref name="mapFd"/> (a map
    /// iterator needs its map, so <see cref="AttachAll"/> leaves it alone). Each
    /// <see cref="RunIterator"/> walks the map again.</summary>
    public string AttachMapIterator(string progName, int mapFd)
    {
        nint prog = Libbpf.bpf_object__find_program_by_name(Raw, progName);
        if (prog == 0)
            throw new InvalidOperationException($"no BPF program named {progName}");
        string section = Utf8(Libbpf.bpf_program__section_name(prog));
        var info = new Libbpf.bpf_iter_link_info { map_fd = (uint)mapFd };
        var opts = new Libbpf.bpf_iter_attach_opts
        {
            sz = (nuint)sizeof(Libbpf.bpf_iter_attach_opts),
            link_info = &info,
            link_info_len = (uint)sizeof(Libbpf.bpf_iter_link_info),
        };
        nint link = Libbpf.bpf_program__attach_iter(prog, &opts);
        if (link == 0)
            throw SysstreamException.FromErrno($"attaching {section}", Marshal.GetLastPInvokeError());
        _links.Add((section, new BpfLinkHandle(link)));
        _attachedApart.Add(prog);
        return section;
    }

    /// <summary>
    /// Runs an iterator attached with <see cref="AttachMapIterator"/> and appends what it writes
    /// to <paramref name="into"/> from <paramref name="length"/> on, growing it as needed. Returns
    /// the new length.
    /// </summary>
    public int RunIterator(string progName, ref byte[] into, int length)
    {
        nint prog = Libbpf.bpf_object__find_program_by_name(Raw, progName);
        string section = prog == 0 ? progName : Utf8(Libbpf.bpf_program__section_name(prog));
        BpfLinkHandle? link = null;
        foreach (var (name, l) in _links)
        {
            if (name == section)
                link = l;
        }
        if (link is null)
            throw new InvalidOperationException($"the iterator {progName} is not attached");
        int fd = Libbpf.bpf_iter_create(Libbpf.bpf_link__fd(link.DangerousGetHandle()));
        if (fd < 0)
            throw SysstreamException.FromErrno($"running {section}", -fd);
        try
        {
            while (true)
            {
                if (into.Length - length < 4096)
                    Array.Resize(ref into, Math.Max(into.Length * 2, 65536));
                nint n;
                fixed (byte* p = &into[length])
                    n = Libc.read(fd, p, (nuint)(into.Length - length));
                if (n == 0)
                    return length;
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4) // EINTR
                        continue;
                    throw SysstreamException.FromErrno($"reading {section}", errno);
                }
                length += (int)n;
            }
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>Detaches the named programs (those attached); the others stay attached.</summary>
    public void Detach(IEnumerable<string> progNames)
    {
        foreach (string name in progNames)
        {
            nint prog = Libbpf.bpf_object__find_program_by_name(Raw, name);
            if (prog == 0)
                continue;
            string section = Utf8(Libbpf.bpf_program__section_name(prog));
            for (int i = _links.Count - 1; i >= 0; i--)
            {
                if (_links[i].Name != section)
                    continue;
                _links[i].Link.Dispose();
                _links.RemoveAt(i);
            }
        }
    }

    /// <summary>Detaches every program; the maps (and the ring buffer) stay readable.</summary>
    public void DetachAll()
    {
        foreach (var (_, link) in _links)
            link.Dispose();
        _links.Clear();
    }

    public int MapFd(string mapName)
    {
        int fd = Libbpf.bpf_map__fd(FindMap(mapName));
        if (fd < 0)
            throw new InvalidOperationException($"BPF map {mapName} is not loaded");
        return fd;
    }

    private nint FindMap(string mapName)
    {
        nint map = Libbpf.bpf_object__find_map_by_name(Raw, mapName);
        if (map == 0)
            throw new InvalidOperationException($"no BPF map named {mapName}");
        return map;
    }

    public void UpdateElem<TKey, TValue>(string mapName, TKey key, TValue value)
        where TKey : unmanaged where TValue : unmanaged
    {
        if (Libbpf.bpf_map_update_elem(MapFd(mapName), &key, &value, 0) != 0)
            throw SysstreamException.FromErrno($"updating BPF map {mapName}", Marshal.GetLastPInvokeError());
    }

    /// <summary>Reads one entry of a per-CPU map: one value per possible CPU.</summary>
    public TValue[] LookupPerCpu<TValue>(string mapName, uint key) where TValue : unmanaged
    {
        int cpus = Libbpf.libbpf_num_possible_cpus();
        int stride = (sizeof(TValue) + 7) & ~7;
        byte[] buf = new byte[stride * cpus];
        fixed (byte* p = buf)
        {
            if (Libbpf.bpf_map_lookup_elem(MapFd(mapName), &key, p) != 0)
                throw SysstreamException.FromErrno($"reading BPF map {mapName}", Marshal.GetLastPInvokeError());
            var result = new TValue[cpus];
            for (int i = 0; i < cpus; i++)
                result[i] = *(TValue*)(p + i * stride);
            return result;
        }
    }

    internal static string Utf8(byte* s) => s == null ? "" : Marshal.PtrToStringUTF8((nint)s) ?? "";

    public void Dispose()
    {
        DetachAll();
        _obj.Dispose();
        if (_imagePin.IsAllocated)
            _imagePin.Free();
        GC.KeepAlive(_image);
    }
}
