using System.Runtime.InteropServices;

namespace Sysstream.Interop;

/// <summary>
/// libbpf (libbpf.so.1, the kernel project's loader), called with source-generated P/Invoke.
/// Names and argument order are exactly those of libbpf.h, bpf.h and btf.h. Pointers to libbpf's
/// own objects are opaque <c>nint</c>s; the ones we own are wrapped in SafeHandles (see Bpf/).
/// libbpf 1.x reports failure as NULL with errno set, or as a negative errno.
/// </summary>
internal static unsafe partial class Libbpf
{
    private const string Lib = "libbpf.so.1";

    [StructLayout(LayoutKind.Sequential)]
    public struct bpf_object_open_opts
    {
        public nuint sz;            // sizeof this prefix; libbpf zero-fills the rest
        public byte* object_name;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct btf_type
    {
        public uint name_off;
        public uint info;          // vlen: bits 0-15, kind: bits 24-28
        public uint size_or_type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct btf_var_secinfo
    {
        public uint type;
        public uint offset;
        public uint size;
    }

    public const int BTF_KIND_DATASEC = 15;
    public const int LIBBPF_WARN = 0, LIBBPF_INFO = 1, LIBBPF_DEBUG = 2;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_object__open_mem(void* obj_buf, nuint obj_buf_sz, bpf_object_open_opts* opts);

    [LibraryImport(Lib)]
    public static partial int bpf_object__load(nint obj);

    [LibraryImport(Lib)]
    public static partial void bpf_object__close(nint obj);

    [LibraryImport(Lib)]
    public static partial nint bpf_object__btf(nint obj);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Lib)]
    public static partial nint bpf_object__next_map(nint obj, nint map);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_program_by_name(nint obj, string name);

    [LibraryImport(Lib)]
    public static partial nint bpf_object__next_program(nint obj, nint prog);

    [LibraryImport(Lib)]
    public static partial byte* bpf_program__name(nint prog);

    [LibraryImport(Lib)]
    public static partial byte* bpf_program__section_name(nint prog);

    [LibraryImport(Lib)]
    public static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool bpf_program__autoload(nint prog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach(nint prog);

    /// <summary>Sets the program type before load (for sections this libbpf does not know).</summary>
    [LibraryImport(Lib)]
    public static partial int bpf_program__set_type(nint prog, int type);

    [LibraryImport(Lib)]
    public static partial int bpf_program__set_expected_attach_type(nint prog, int type);

    /// <summary>The prefix of struct bpf_prog_load_opts that probes need; libbpf zero-fills the rest.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct bpf_prog_load_opts
    {
        public nuint sz;
        public int attempts;
        public int expected_attach_type;
    }

    /// <summary>Loads raw instructions (8 bytes each); returns the program's fd or a negative errno.</summary>
    [LibraryImport(Lib)]
    public static partial int bpf_prog_load(int prog_type, byte* prog_name, byte* license, ulong* insns, nuint insn_cnt,
        bpf_prog_load_opts* opts);

    /// <summary>enum bpf_prog_type and enum bpf_attach_type values (linux/bpf.h).</summary>
    public const int BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;
    public const int BPF_CGROUP_UNIX_CONNECT = 49;

    [LibraryImport(Lib)]
    public static partial int bpf_link__destroy(nint link);

    [LibraryImport(Lib)]
    public static partial int bpf_link__fd(nint link);

    /// <summary>struct bpf_iter_attach_opts: which map (or task, cgroup) an iterator walks.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct bpf_iter_attach_opts
    {
        public nuint sz;
        public void* link_info;     // union bpf_iter_link_info *
        public uint link_info_len;
    }

    /// <summary>union bpf_iter_link_info with its map member: 16 bytes, the largest member's size.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct bpf_iter_link_info
    {
        [FieldOffset(0)] public uint map_fd;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach_iter(nint prog, bpf_iter_attach_opts* opts);

    /// <summary>A new run of an attached iterator: read() the fd until it returns 0. Negative errno on failure.</summary>
    [LibraryImport(Lib)]
    public static partial int bpf_iter_create(int link_fd);

    [LibraryImport(Lib)]
    public static partial int bpf_map__fd(nint map);

    [LibraryImport(Lib)]
    public static partial byte* bpf_map__name(nint map);

    [LibraryImport(Lib)]
    public static partial int bpf_map__set_max_entries(nint map, uint max_entries);

    [LibraryImport(Lib)]
    public static partial int bpf_map__reuse_fd(nint map, int fd);

    [LibraryImport(Lib)]
    public static partial uint bpf_map__value_size(nint map);

    [LibraryImport(Lib)]
    public static partial void* bpf_map__initial_value(nint map, nuint* psize);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Lib)]
    public static partial int btf__find_by_name_kind(nint btf, byte* type_name, uint kind);

    [LibraryImport(Lib)]
    public static partial btf_type* btf__type_by_id(nint btf, uint id);

    [LibraryImport(Lib)]
    public static partial byte* btf__name_by_offset(nint btf, uint offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint ring_buffer__new(int map_fd,
        delegate* unmanaged<void*, void*, nuint, int> sample_cb, void* ctx, void* opts);

    [LibraryImport(Lib)]
    public static partial int ring_buffer__poll(nint rb, int timeout_ms);

    [LibraryImport(Lib)]
    public static partial int ring_buffer__consume(nint rb);

    [LibraryImport(Lib)]
    public static partial void ring_buffer__free(nint rb);

    /// <summary>Adds another ring buffer map to <paramref name="rb"/>: one poll serves both.</summary>
    [LibraryImport(Lib)]
    public static partial int ring_buffer__add(nint rb, int map_fd,
        delegate* unmanaged<void*, void*, nuint, int> sample_cb, void* ctx);

    /// <summary>Attaches a cgroup program (cgroup_skb ...) to the cgroup open as <paramref name="cgroup_fd"/>, as a link.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach_cgroup(nint prog, int cgroup_fd);

    [LibraryImport(Lib)]
    public static partial int libbpf_num_possible_cpus();

    /// <summary>The callback gets (level, format, va_list); on x86-64 a va_list argument is a pointer.</summary>
    [LibraryImport(Lib)]
    public static partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);

    [LibraryImport(Lib)]
    public static partial int libbpf_probe_bpf_prog_type(int prog_type, void* opts);

    [LibraryImport(Lib)]
    public static partial int libbpf_probe_bpf_map_type(int map_type, void* opts);

    /// <summary>enum bpf_map_type (linux/bpf.h).</summary>
    public const int BPF_MAP_TYPE_RINGBUF = 27;

    [LibraryImport(Lib)]
    public static partial uint libbpf_major_version();

    [LibraryImport(Lib)]
    public static partial uint libbpf_minor_version();
}
