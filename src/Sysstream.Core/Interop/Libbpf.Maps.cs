using System.Runtime.InteropServices;

namespace Sysstream.Interop;

/// <summary>
/// libbpf's map-walking calls (bpf.h), for views that read aggregated maps on a timer instead of
/// a ring buffer. Like the rest of <see cref="Libbpf"/>: names and argument order as in C; they
/// return a negative errno on failure (and set errno).
/// </summary>
internal static unsafe partial class Libbpf
{
    /// <summary>struct bpf_map_batch_opts (libbpf 0.2+); libbpf reads the first <c>sz</c> bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct bpf_map_batch_opts
    {
        public nuint sz;
        public ulong elem_flags;
        public ulong flags;
    }

    /// <summary>Reads up to <c>*count</c> entries after <c>in_batch</c> (NULL: from the start);
    /// ENOENT with the last entries when the walk is complete.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bpf_map_lookup_batch(int fd, void* in_batch, void* out_batch, void* keys, void* values,
        uint* count, bpf_map_batch_opts* opts);

    /// <summary>The key after <c>key</c> (NULL: the first); ENOENT at the end.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bpf_map_get_next_key(int fd, void* key, void* next_key);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bpf_map_delete_elem(int fd, void* key);
}
