using System.Runtime.InteropServices;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>Called once per map entry; per-CPU maps pass one value per possible CPU.</summary>
internal delegate void MapEntryVisitor<TKey, TValue>(in TKey key, ReadOnlySpan<TValue> values)
    where TKey : unmanaged where TValue : unmanaged;

/// <summary>
/// Reads whole hash maps from user space: batched (BPF_MAP_LOOKUP_BATCH, one system call per
/// few hundred entries) where the kernel has it, else key by key. Entries that come and go
/// during the walk may be missed or seen once; none is seen twice.
/// </summary>
internal static unsafe class MapWalker
{
    private const int ENOENT = 2, EINVAL = 22, ENOSPC = 28, ENOTSUPP = 524, EOPNOTSUPP = 95;
    private const uint FirstChunk = 256;

    /// <summary>Walks every entry of the map behind <paramref name="fd"/>.</summary>
    public static void Walk<TKey, TValue>(int fd, bool perCpu, MapEntryVisitor<TKey, TValue> visit, string mapName)
        where TKey : unmanaged where TValue : unmanaged
    {
        int cpus = perCpu ? Math.Max(1, Libbpf.libbpf_num_possible_cpus()) : 1;
        if (perCpu && sizeof(TValue) % 8 != 0)
            throw new InvalidOperationException($"per-CPU value {typeof(TValue).Name} is not a multiple of 8 bytes");
        if (!TryWalkBatched(fd, cpus, visit, mapName))
            WalkByKey(fd, cpus, visit, mapName);
    }

    private static bool TryWalkBatched<TKey, TValue>(int fd, int cpus, MapEntryVisitor<TKey, TValue> visit, string mapName)
        where TKey : unmanaged where TValue : unmanaged
    {
        uint chunk = FirstChunk;
        // The batch cursor is opaque (a bucket index for hash maps); 8 bytes hold any of them.
        ulong inBatch = 0, outBatch = 0;
        bool first = true;
        var opts = new Libbpf.bpf_map_batch_opts { sz = (nuint)sizeof(Libbpf.bpf_map_batch_opts) };
        TKey[] keys = new TKey[chunk];
        TValue[] values = new TValue[chunk * cpus];
        while (true)
        {
            uint count = chunk;
            int err;
            fixed (TKey* k = keys)
            fixed (TValue* v = values)
                err = Libbpf.bpf_map_lookup_batch(fd, first ? null : &inBatch, &outBatch, k, v, &count, &opts);
            int errno = err < 0 ? Math.Abs(err) : 0;
            if (err < 0 && first && count == 0 && errno is EINVAL or ENOTSUPP or EOPNOTSUPP)
                return false; // no batch operations for this map or kernel: walk key by key
            if (err < 0 && errno == ENOSPC && count == 0)
            {
                // one hash bucket holds more entries than fit: retry the same step, larger
                chunk *= 2;
                keys = new TKey[chunk];
                values = new TValue[chunk * cpus];
                continue;
            }
            if (err < 0 && errno != ENOENT)
                throw SysstreamException.FromErrno($"reading BPF map {mapName}", errno);
            for (int i = 0; i < count; i++)
                visit(in keys[i], new ReadOnlySpan<TValue>(values, i * cpus, cpus));
            if (err < 0) // ENOENT: that was the last part
                return true;
            inBatch = outBatch;
            first = false;
        }
    }

    private static void WalkByKey<TKey, TValue>(int fd, int cpus, MapEntryVisitor<TKey, TValue> visit, string mapName)
        where TKey : unmanaged where TValue : unmanaged
    {
        var seen = new HashSet<TKey>();
        TValue[] values = new TValue[cpus];
        TKey key = default, next = default;
        bool first = true;
        while (true)
        {
            int err = Libbpf.bpf_map_get_next_key(fd, first ? null : &key, &next);
            if (err < 0)
            {
                int errno = Math.Abs(err);
                if (errno == ENOENT)
                    return;
                throw SysstreamException.FromErrno($"walking BPF map {mapName}", errno);
            }
            first = false;
            key = next;
            // A deleted key makes the kernel start over from the first one: never visit twice.
            if (!seen.Add(key))
                continue;
            fixed (TValue* v = values)
            {
                if (Libbpf.bpf_map_lookup_elem(fd, &key, v) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ENOENT)
                        continue; // gone meanwhile
                    throw SysstreamException.FromErrno($"reading BPF map {mapName}", errno);
                }
            }
            visit(in key, values);
        }
    }

    /// <summary>Deletes one entry; false when it was already gone.</summary>
    public static bool Delete<TKey>(int fd, TKey key, string mapName) where TKey : unmanaged
    {
        if (Libbpf.bpf_map_delete_elem(fd, &key) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ENOENT)
            return false;
        throw SysstreamException.FromErrno($"deleting from BPF map {mapName}", errno);
    }
}
