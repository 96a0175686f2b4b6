using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sysstream.Bpf;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;

namespace Sysstream.Capture;

/// <summary>Looks up the kernel's current owner of a socket (the ss_owners map).</summary>
public delegate bool OwnerLookup(ulong cookie, out SockOwner owner);

/// <summary>How a <see cref="CaptureRecorder"/> reads its rings and decides.</summary>
public sealed record RecorderSettings
{
    /// <summary>Index of the tracer's ring in the reader (-1: no system calls).</summary>
    public int TraceRing { get; init; } = -1;
    /// <summary>Index of the capture's ring in the reader (-1: no packets).</summary>
    public int CaptureRing { get; init; } = -1;
    /// <summary>How long records are held before they are written: for the order across CPUs
    /// and rings, for a loopback packet's delivery to meet its sending, and for a socket's
    /// first user to show up (a packet may reach a socket before its process first reads it).</summary>
    public ulong WindowNs { get; init; } = 100_000_000;
    /// <summary>A process filter is on (pid, comm, uid, cgroup, or a command's tree): packets
    /// whose owner stays unknown are not written, and late-found owners must match.</summary>
    public bool ProcessFilter { get; init; }
    /// <summary>The kernel's counters of each ring, for losses not announced by a later record.</summary>
    public Func<Stats[]>? TraceStats { get; init; }
    public Func<Stats[]>? CaptureStats { get; init; }
}

/// <summary>What a capture wrote.</summary>
public sealed class CaptureCounters
{
    public long Packets;
    /// <summary>Packets with a process on at least one end.</summary>
    public long PacketsWithProcess;
    /// <summary>Packets with no process on any end, written marked as such.</summary>
    public long PacketsWithoutProcess;
    /// <summary>Packets whose sending and delivery were both seen (loopback, veth between local
    /// namespaces) and written as one packet with both ends' processes.</summary>
    public long LocalMerged;
    /// <summary>Packets not written because no end's process passed the process filters.</summary>
    public long Filtered;
    public long Syscalls;
    public long LostSyscalls;
    public long LostPackets;
    public long Malformed;
    /// <summary>Records that came after newer ones had been written (written anyway).</summary>
    public long Late;
}

/// <summary>
/// Turns the records of the tracer's and the capture's ring buffers into one pcapng file, on the
/// reader thread. Records are held for a short window and written in timestamp order:
/// system calls and losses as sysstream Custom Blocks, packets as Enhanced Packet Blocks with the
/// process context of each end in comments, a custom option (JSON) and the direction flag.
/// A packet that travels between two local sockets is seen twice (leaving one, reaching the
/// other) with the same bytes: the two sightings become one packet with both processes.
/// </summary>
/// <remarks>
/// Held records are kept as their bytes in a <see cref="CaptureQueue"/> (one time-ordered list
/// per ring, merged at release), so a record costs a copy and a few compares, and nothing is
/// allocated per record. A packet is held as a <see cref="PacketMeta"/>, the kernel's header,
/// room for its delivery's header (sendings only) and the captured bytes.
/// </remarks>
public sealed class CaptureRecorder : IRingRecordHandler
{
    private const int MaxConnections = 65536;
    private const int HashBytes = 96;

    // Sources of the queue: each ring's records are ordered on their own, then merged.
    private const int TraceSource = 0, CaptureSource = 1;

    private static readonly int HeaderSize = Unsafe.SizeOf<PacketEvent>();
    private static readonly int MetaSize = Unsafe.SizeOf<PacketMeta>();

    private readonly PcapngWriter _writer;
    private readonly EventClock _clock;
    private readonly ProcessContexts _contexts;
    private readonly InterfaceTable _interfaces;
    private readonly OwnerLookup _lookup;
    private readonly RecorderSettings _settings;
    private readonly Func<ulong> _now;

    private readonly CaptureQueue _queue = new(2);
    // Sendings still waiting for their delivery (neither paired nor written), by the hash of
    // their bytes: the newest one's handle; the others follow through PacketMeta.NextSameHash.
    private readonly Dictionary<int, long> _pendingEgress = new();
    private readonly Dictionary<ConnectionKey, SockOwner> _connections = new();
    private ulong _lastWritten;
    private bool _wrote;

    public CaptureCounters Counters { get; } = new();

    public CaptureRecorder(PcapngWriter writer, EventClock clock, ProcessContexts contexts, InterfaceTable interfaces,
        OwnerLookup lookup, RecorderSettings settings, Func<ulong> monotonicNow)
    {
        _writer = writer;
        _clock = clock;
        _contexts = contexts;
        _interfaces = interfaces;
        _lookup = lookup;
        _settings = settings;
        _now = monotonicNow;
    }

    private enum Kind : byte { Syscall, SyscallUnix, LostSyscalls, LostPackets, Packet }

    /// <summary>What is kept with a held packet besides the kernel's bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct PacketMeta
    {
        /// <summary>The next older sending with the same hash (-1: none).</summary>
        public long NextSameHash;
        public int Hash;
        public int DataLength;
        /// <summary>Its delivery to a local socket was seen: the peer header follows the header.</summary>
        public bool HasPeer;
        /// <summary>A sending still in <see cref="_pendingEgress"/> (not paired, not written).</summary>
        public bool PendingEgress;
        public bool IsEgress;
    }

    // ------------------------------------------------------------------ arrival

    public void OnRecord(int ring, ReadOnlySpan<byte> record)
    {
        if (record.Length < 2)
        {
            Counters.Malformed++;
            return;
        }
        ushort type = MemoryMarshal.Read<ushort>(record);
        if (ring == _settings.TraceRing)
        {
            switch ((EventType)type)
            {
                case EventType.Syscall when record.Length >= Unsafe.SizeOf<SyscallEvent>():
                    AddSyscall(in MemoryMarshal.AsRef<SyscallEvent>(record), in NoPaths, hasPaths: false);
                    return;
                case EventType.SyscallUnix when record.Length >= Unsafe.SizeOf<SyscallEventUnix>():
                {
                    ref readonly SyscallEventUnix u = ref MemoryMarshal.AsRef<SyscallEventUnix>(record);
                    AddSyscall(in u.Ev, in u.Paths, hasPaths: true);
                    return;
                }
                case EventType.Lost when record.Length >= Unsafe.SizeOf<LostEvent>():
                    AddLost(MemoryMarshal.Read<LostEvent>(record), packets: false);
                    return;
            }
        }
        else if (ring == _settings.CaptureRing)
        {
            if (type == (ushort)CaptureType.Packet && record.Length >= Unsafe.SizeOf<PacketEvent>())
            {
                AddPacket(record);
                return;
            }
            if (type == (ushort)CaptureType.Proc && record.Length >= Unsafe.SizeOf<ProcEvent>())
            {
                _contexts.Describe(MemoryMarshal.Read<ProcEvent>(record));
                return;
            }
            if (type == (ushort)EventType.Lost && record.Length >= Unsafe.SizeOf<LostEvent>())
            {
                AddLost(MemoryMarshal.Read<LostEvent>(record), packets: true);
                return;
            }
        }
        Counters.Malformed++;
    }

    private static readonly UnixPaths NoPaths = default;

    /// <summary>A system call record; one that carries its entry is held as the two events.</summary>
    private void AddSyscall(in SyscallEvent ev, in UnixPaths paths, bool hasPaths)
    {
        if (ev.CarriesEntry)
        {
            SyscallEvent exit = ev;
            exit.SplitEntry(out SyscallEvent entry);
            HoldSyscall(in entry, in paths, hasPaths);
            HoldSyscall(in exit, in paths, hasPaths);
            return;
        }
        HoldSyscall(in ev, in paths, hasPaths);
    }

    /// <summary>Holds one system call event (with its unix paths when <paramref name="hasPaths"/>):
    /// the one place where decoded system call events are queued.</summary>
    private void HoldSyscall(in SyscallEvent ev, in UnixPaths paths, bool hasPaths)
    {
        int evSize = Unsafe.SizeOf<SyscallEvent>();
        int size = hasPaths ? Unsafe.SizeOf<SyscallEventUnix>() : evSize;
        Span<byte> dst = _queue.Add(TraceSource, ev.TsNs, (byte)(hasPaths ? Kind.SyscallUnix : Kind.Syscall), size, out _);
        MemoryMarshal.Write(dst, in ev);
        if (hasPaths)
            MemoryMarshal.Write(dst[evSize..], in paths);
    }

    private void AddLost(in LostEvent lost, bool packets)
    {
        Span<byte> dst = _queue.Add(packets ? CaptureSource : TraceSource, lost.TsNs,
            (byte)(packets ? Kind.LostPackets : Kind.LostSyscalls), Unsafe.SizeOf<LostEvent>(), out _);
        MemoryMarshal.Write(dst, in lost);
    }

    /// <summary>A packet record: the header, then cap_len bytes of the packet.</summary>
    public void AddPacket(ReadOnlySpan<byte> record)
    {
        ref readonly PacketEvent h = ref MemoryMarshal.AsRef<PacketEvent>(record);
        if (h.CapLen > (uint)(record.Length - HeaderSize) || h.CapLen > h.Len)
        {
            Counters.Malformed++;
            return;
        }
        ReadOnlySpan<byte> data = record.Slice(HeaderSize, (int)h.CapLen);
        if (h.HasOwner)
        {
            // Read /proc now, while the process is surely alive.
            _contexts.Observe(in h.Owner);
            if (PacketTuple.TryParse(data, out PacketTuple tuple))
                Learn(in h, in tuple, in h.Owner);
        }
        int hash = Hash(data, h.Len);
        bool egress = h.IsEgress;

        if (!egress && TryMerge(in h, data, hash))
            return;

        // meta, header, [the delivery's header], data
        int dataAt = MetaSize + HeaderSize + (egress ? HeaderSize : 0);
        Span<byte> dst = _queue.Add(CaptureSource, h.TsNs, (byte)Kind.Packet, dataAt + data.Length, out long handle);
        ref PacketMeta m = ref MemoryMarshal.AsRef<PacketMeta>(dst);
        m.Hash = hash;
        m.DataLength = data.Length;
        m.HasPeer = false;
        m.IsEgress = egress;
        m.PendingEgress = egress;
        m.NextSameHash = -1;
        record[..HeaderSize].CopyTo(dst[MetaSize..]);
        data.CopyTo(dst[dataAt..]);
        if (egress)
        {
            // Wait for its delivery to a local socket, if it has one.
            ref long first = ref CollectionsMarshal.GetValueRefOrAddDefault(_pendingEgress, hash, out bool exists);
            m.NextSameHash = exists ? first : -1;
            first = handle;
        }
    }

    /// <summary>The meta, header, peer header and data of a held packet.</summary>
    private ref PacketMeta Meta(long handle) => ref MemoryMarshal.AsRef<PacketMeta>(_queue.Bytes(handle, MetaSize));

    private static int DataOffset(bool egress) => MetaSize + HeaderSize + (egress ? HeaderSize : 0);

    /// <summary>A delivery whose sending is still held: the same bytes, not yet paired. A paired
    /// sending leaves the chain at once, so chains hold only sendings still waiting (short even
    /// when the same bytes are sent again and again, as a flood of equal datagrams does).</summary>
    private bool TryMerge(in PacketEvent h, ReadOnlySpan<byte> data, int hash)
    {
        ref long first = ref CollectionsMarshal.GetValueRefOrNullRef(_pendingEgress, hash);
        if (Unsafe.IsNullRef(ref first))
            return false;
        // The chain runs newest first; pair with the oldest unpaired (a retransmission's twin
        // would be newer).
        long match = -1, matchPrev = -1, prev = -1;
        int egressData = DataOffset(egress: true);
        for (long e = first; e >= 0;)
        {
            Span<byte> held = _queue.Bytes(e, egressData + Meta(e).DataLength);
            ref PacketMeta m = ref MemoryMarshal.AsRef<PacketMeta>(held);
            ref readonly PacketEvent eh = ref MemoryMarshal.AsRef<PacketEvent>(held[MetaSize..]);
            if (!m.HasPeer && eh.Len == h.Len && eh.TsNs <= h.TsNs && m.DataLength == data.Length
                && data.SequenceEqual(held[egressData..]))
            {
                match = e;
                matchPrev = prev;
            }
            prev = e;
            e = m.NextSameHash;
        }
        if (match < 0)
            return false;
        Span<byte> paired = _queue.Bytes(match, egressData);
        ref PacketMeta pm = ref MemoryMarshal.AsRef<PacketMeta>(paired);
        pm.HasPeer = true;
        MemoryMarshal.Write(paired[(MetaSize + HeaderSize)..], in h);
        Unlink(ref first, hash, matchPrev, ref pm);
        Counters.LocalMerged++;
        return true;
    }

    /// <summary>Takes a sending out of its chain (<paramref name="prev"/>: the newer one before it, -1: none).</summary>
    private void Unlink(ref long first, int hash, long prev, ref PacketMeta e)
    {
        e.PendingEgress = false;
        if (prev >= 0)
            Meta(prev).NextSameHash = e.NextSameHash;
        else if (e.NextSameHash >= 0)
            first = e.NextSameHash;
        else
            _pendingEgress.Remove(hash);
    }

    private static int Hash(ReadOnlySpan<byte> data, uint len)
    {
        var h = new HashCode();
        h.AddBytes(data[..Math.Min(data.Length, HashBytes)]);
        h.Add(len);
        return h.ToHashCode();
    }

    // ------------------------------------------------------------------ order

    /// <summary>Writes, in order, every record at or before <paramref name="upToNs"/>.</summary>
    public void Release(ulong upToNs)
    {
        while (_queue.TryTake(upToNs, out HeldRecord r))
        {
            if (r.Ts < _lastWritten)
                Counters.Late++;
            else
                _lastWritten = r.Ts;
            Write(in r);
            _queue.Free(r.Handle);
        }
    }

    /// <summary>Records held for the window.</summary>
    public int Pending => _queue.Count;

    public void OnDrained()
    {
        ulong now = _now();
        if (now > _settings.WindowNs)
            Release(now - _settings.WindowNs);
        FlushIfWritten();
    }

    public void OnEnd()
    {
        ulong now = _now();
        AnnounceLoss(_settings.TraceStats, packets: false, now);
        AnnounceLoss(_settings.CaptureStats, packets: true, now);
        Release(ulong.MaxValue);
        FlushIfWritten();
    }

    /// <summary>Losses on CPUs that wrote nothing after them were never announced by a record.</summary>
    private void AnnounceLoss(Func<Stats[]>? read, bool packets, ulong now)
    {
        if (read is null)
            return;
        Stats[] stats = read();
        for (int cpu = 0; cpu < stats.Length; cpu++)
        {
            if (stats[cpu].Unreported > 0)
                AddLost(new LostEvent { Type = (ushort)EventType.Lost, Cpu = (uint)cpu, TsNs = now, Count = stats[cpu].Unreported }, packets);
        }
    }

    private void FlushIfWritten()
    {
        if (!_wrote)
            return;
        _wrote = false;
        _writer.Flush();
    }

    // ------------------------------------------------------------------ writing

    private void Write(in HeldRecord r)
    {
        _wrote = true;
        ReadOnlySpan<byte> bytes = _queue.Bytes(r.Handle, r.Length);
        switch ((Kind)r.Kind)
        {
            case Kind.Syscall:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.Syscall, bytes);
                Counters.Syscalls++;
                break;
            case Kind.SyscallUnix:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.SyscallUnix, bytes);
                Counters.Syscalls++;
                break;
            case Kind.LostSyscalls:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.LostSyscalls, bytes);
                Counters.LostSyscalls += (long)MemoryMarshal.Read<LostEvent>(bytes).Count;
                break;
            case Kind.LostPackets:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.LostPackets, bytes);
                Counters.LostPackets += (long)MemoryMarshal.Read<LostEvent>(bytes).Count;
                break;
            case Kind.Packet:
                WritePacket(r.Handle, _queue.Bytes(r.Handle, r.Length));
                break;
        }
    }

    /// <summary>A sending written before any delivery was seen: no delivery will pair with it now.</summary>
    private void ForgetPending(long handle, ref PacketMeta e)
    {
        ref long first = ref CollectionsMarshal.GetValueRefOrNullRef(_pendingEgress, e.Hash);
        if (Unsafe.IsNullRef(ref first))
        {
            e.PendingEgress = false;
            return;
        }
        long prev = -1;
        for (long p = first; p >= 0; p = Meta(p).NextSameHash)
        {
            if (p == handle)
            {
                Unlink(ref first, e.Hash, prev, ref e);
                return;
            }
            prev = p;
        }
        e.PendingEgress = false;
    }

    private void WritePacket(long handle, Span<byte> held)
    {
        ref PacketMeta m = ref MemoryMarshal.AsRef<PacketMeta>(held);
        if (m.PendingEgress)
            ForgetPending(handle, ref m);
        ref readonly PacketEvent h = ref MemoryMarshal.AsRef<PacketEvent>(held[MetaSize..]);
        ReadOnlySpan<byte> data = held.Slice(DataOffset(m.IsEgress), m.DataLength);
        PacketSide side = h.IsEgress ? PacketSide.Out : PacketSide.In;
        OwnerSource s1 = Resolve(in h, side, data, out SockOwner o1);
        bool keep1 = Keep(s1, in o1);
        OwnerSource s2 = OwnerSource.None;
        SockOwner o2 = default;
        bool keep2 = false;
        ref readonly PacketEvent peer = ref Unsafe.NullRef<PacketEvent>();
        if (m.HasPeer)
        {
            peer = ref MemoryMarshal.AsRef<PacketEvent>(held[(MetaSize + HeaderSize)..]);
            s2 = Resolve(in peer, PacketSide.In, data, out o2);
            keep2 = Keep(s2, in o2);
        }
        if (!keep1 && !keep2)
        {
            Counters.Filtered++;
            return;
        }

        int iface = _interfaces.Get(h.HasNetns ? h.Netns : 0, h.Ifindex);
        ulong ts = (ulong)_clock.ToUnixNs(h.TsNs);
        _writer.BeginEnhancedPacket(iface, ts, data, Math.Max(h.Len, (uint)data.Length));
        ContextText? t1 = keep1 ? _contexts.Get(side, h.Cookie, s1, in o1) : null;
        ContextText? t2 = keep2 ? _contexts.Get(PacketSide.In, peer.Cookie, s2, in o2) : null;
        if (t1 is not null)
            _writer.AddOption(OptionCode.Comment, t1.Comment);
        if (t2 is not null)
            _writer.AddOption(OptionCode.Comment, t2.Comment);
        _writer.AddUInt32Option(OptionCode.EpbFlags, h.IsEgress ? EpbFlags.Outbound : EpbFlags.Inbound);
        if (t1 is not null)
            _writer.AddCustomOption(OptionCode.CustomStringCopyable, SysstreamBlocks.EnterpriseNumber, t1.Json);
        if (t2 is not null)
            _writer.AddCustomOption(OptionCode.CustomStringCopyable, SysstreamBlocks.EnterpriseNumber, t2.Json);
        _writer.EndBlock();

        Counters.Packets++;
        if ((keep1 && s1 != OwnerSource.None) || (keep2 && s2 != OwnerSource.None))
            Counters.PacketsWithProcess++;
        else
            Counters.PacketsWithoutProcess++;
    }

    private bool Keep(OwnerSource source, in SockOwner owner) =>
        !_settings.ProcessFilter || (source != OwnerSource.None && owner.IsMatched);

    /// <summary>
    /// The process behind one end: the owner the kernel copied into the record; else the
    /// socket's owner now (its first user came after the packet: a request that arrived before
    /// the server read it); else the last user of the same connection (a TIME_WAIT socket or the
    /// kernel's control socket answering for it); else none.
    /// </summary>
    private OwnerSource Resolve(in PacketEvent h, PacketSide side, ReadOnlySpan<byte> data, out SockOwner owner)
    {
        if (h.HasOwner)
        {
            owner = h.Owner;
            return OwnerSource.Socket;
        }
        bool hasTuple = PacketTuple.TryParse(data, out PacketTuple tuple);
        if (h.Cookie != 0 && _lookup(h.Cookie, out owner))
        {
            if (hasTuple)
                Learn(in h, in tuple, in owner);
            return OwnerSource.Socket;
        }
        if (hasTuple && tuple.HasPorts && _connections.TryGetValue(ConnectionKey.Of(in h, side, in tuple), out owner))
            return OwnerSource.Connection;
        owner = default;
        return OwnerSource.None;
    }

    private void Learn(in PacketEvent h, in PacketTuple tuple, in SockOwner owner)
    {
        if (!tuple.HasPorts)
            return;
        if (_connections.Count >= MaxConnections)
            _connections.Clear();
        _connections[ConnectionKey.Of(in h, h.IsEgress ? PacketSide.Out : PacketSide.In, in tuple)] = owner;
    }

    /// <summary>A socket's end of a connection: its local end first.</summary>
    private readonly record struct ConnectionKey(uint Netns, byte Protocol, UInt128 Local, ushort LocalPort, UInt128 Remote, ushort RemotePort)
    {
        public static ConnectionKey Of(in PacketEvent h, PacketSide side, in PacketTuple t) => side == PacketSide.Out
            ? new(h.HasNetns ? h.Netns : 0, t.Protocol, t.Src, t.SrcPort, t.Dst, t.DstPort)
            : new(h.HasNetns ? h.Netns : 0, t.Protocol, t.Dst, t.DstPort, t.Src, t.SrcPort);
    }
}
