using System.Buffers;
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
public sealed class CaptureRecorder : IRingRecordHandler
{
    private const int MaxConnections = 65536;
    private const int HashBytes = 96;

    private readonly PcapngWriter _writer;
    private readonly EventClock _clock;
    private readonly ProcessContexts _contexts;
    private readonly InterfaceTable _interfaces;
    private readonly OwnerLookup _lookup;
    private readonly RecorderSettings _settings;
    private readonly Func<ulong> _now;

    // Records wait here for the window, smallest timestamp first (ties in arrival order). The two
    // rings are drained one after the other, so a heap, not a walk back from the tail.
    private readonly PriorityQueue<Entry, (ulong Ts, long Seq)> _queue = new(4096);
    private long _seq;
    private readonly Stack<Entry> _pool = new();
    private readonly Dictionary<int, Entry> _pendingEgress = new();
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

    private sealed class Entry
    {
        public Kind Kind;
        public ulong Ts;
        public SyscallEventUnix Sys;
        public LostEvent Lost;
        public PacketEvent Packet;
        public byte[] Data = [];
        public int DataLength;
        public int Hash;
        public bool HasPeer;
        public PacketEvent Peer;
        public bool HasTuple;
        public PacketTuple Tuple;
        public Entry? NextSameHash;
        public bool PendingEgress;
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
                {
                    Entry e = Rent(Kind.Syscall);
                    e.Sys.Ev = MemoryMarshal.Read<SyscallEvent>(record);
                    AddSyscall(e);
                    return;
                }
                case EventType.SyscallUnix when record.Length >= Unsafe.SizeOf<SyscallEventUnix>():
                {
                    Entry e = Rent(Kind.SyscallUnix);
                    e.Sys = MemoryMarshal.Read<SyscallEventUnix>(record);
                    AddSyscall(e);
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

    /// <summary>A system call record; one that carries its entry is written as the two events.</summary>
    private void AddSyscall(Entry e)
    {
        if (e.Sys.Ev.CarriesEntry)
        {
            Entry entry = Rent(e.Kind);
            e.Sys.Ev.SplitEntry(out entry.Sys.Ev);
            entry.Sys.Paths = e.Sys.Paths;
            Enqueue(entry, entry.Sys.Ev.TsNs);
        }
        Enqueue(e, e.Sys.Ev.TsNs);
    }

    private void AddLost(in LostEvent lost, bool packets)
    {
        Entry e = Rent(packets ? Kind.LostPackets : Kind.LostSyscalls);
        e.Lost = lost;
        Enqueue(e, lost.TsNs);
    }

    /// <summary>A packet record: the header, then cap_len bytes of the packet.</summary>
    public void AddPacket(ReadOnlySpan<byte> record)
    {
        int header = Unsafe.SizeOf<PacketEvent>();
        PacketEvent h = MemoryMarshal.Read<PacketEvent>(record);
        if (h.CapLen > (uint)(record.Length - header) || h.CapLen > h.Len)
        {
            Counters.Malformed++;
            return;
        }
        ReadOnlySpan<byte> data = record.Slice(header, (int)h.CapLen);
        bool hasTuple = PacketTuple.TryParse(data, out PacketTuple tuple);
        if (h.HasOwner)
        {
            // Read /proc now, while the process is surely alive.
            _contexts.Observe(in h.Owner);
            if (hasTuple)
                Learn(in h, in tuple, in h.Owner);
        }
        int hash = Hash(data, h.Len);

        if (!h.IsEgress && TryMerge(in h, data, hash))
            return;

        Entry e = Rent(Kind.Packet);
        e.Packet = h;
        e.DataLength = data.Length;
        e.Data = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Length));
        data.CopyTo(e.Data);
        e.Hash = hash;
        e.HasTuple = hasTuple;
        e.Tuple = tuple;
        if (h.IsEgress)
        {
            // Wait for its delivery to a local socket, if it has one.
            e.NextSameHash = _pendingEgress.TryGetValue(hash, out Entry? first) ? first : null;
            _pendingEgress[hash] = e;
            e.PendingEgress = true;
        }
        Enqueue(e, h.TsNs);
    }

    /// <summary>A delivery whose sending is still held: the same bytes, not yet paired.</summary>
    private bool TryMerge(in PacketEvent h, ReadOnlySpan<byte> data, int hash)
    {
        if (!_pendingEgress.TryGetValue(hash, out Entry? e))
            return false;
        // The chain runs newest first; pair with the oldest unpaired (a retransmission's twin
        // would be newer).
        Entry? match = null;
        for (; e is not null; e = e.NextSameHash)
        {
            if (!e.HasPeer && e.Packet.Len == h.Len && e.Ts <= h.TsNs && e.DataLength == data.Length
                && data.SequenceEqual(e.Data.AsSpan(0, e.DataLength)))
                match = e;
        }
        if (match is null)
            return false;
        match.HasPeer = true;
        match.Peer = h;
        Counters.LocalMerged++;
        return true;
    }

    private static int Hash(ReadOnlySpan<byte> data, uint len)
    {
        var h = new HashCode();
        h.AddBytes(data[..Math.Min(data.Length, HashBytes)]);
        h.Add(len);
        return h.ToHashCode();
    }

    // ------------------------------------------------------------------ order

    private Entry Rent(Kind kind)
    {
        Entry e = _pool.Count > 0 ? _pool.Pop() : new Entry();
        e.Kind = kind;
        e.HasPeer = false;
        e.NextSameHash = null;
        e.PendingEgress = false;
        e.HasTuple = false;
        return e;
    }

    private void Return(Entry e)
    {
        if (e.Kind == Kind.Packet && e.Data.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(e.Data);
            e.Data = [];
        }
        if (_pool.Count < 4096)
            _pool.Push(e);
    }

    private void Enqueue(Entry e, ulong ts)
    {
        e.Ts = ts;
        _queue.Enqueue(e, (ts, _seq++));
    }

    /// <summary>Writes, in order, every record at or before <paramref name="upToNs"/>.</summary>
    public void Release(ulong upToNs)
    {
        while (_queue.TryPeek(out Entry? e, out (ulong Ts, long Seq) key) && key.Ts <= upToNs)
        {
            _queue.Dequeue();
            if (e.Ts < _lastWritten)
                Counters.Late++;
            else
                _lastWritten = e.Ts;
            Write(e);
            Return(e);
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

    private void Write(Entry e)
    {
        _wrote = true;
        switch (e.Kind)
        {
            case Kind.Syscall:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.Syscall, in e.Sys.Ev);
                Counters.Syscalls++;
                break;
            case Kind.SyscallUnix:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.SyscallUnix, in e.Sys);
                Counters.Syscalls++;
                break;
            case Kind.LostSyscalls:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.LostSyscalls, in e.Lost);
                Counters.LostSyscalls += (long)e.Lost.Count;
                break;
            case Kind.LostPackets:
                SysstreamBlocks.Write(_writer, SysstreamBlockKind.LostPackets, in e.Lost);
                Counters.LostPackets += (long)e.Lost.Count;
                break;
            case Kind.Packet:
                if (e.PendingEgress)
                    ForgetPending(e);
                WritePacket(e);
                break;
        }
    }

    private void ForgetPending(Entry e)
    {
        e.PendingEgress = false;
        if (!_pendingEgress.TryGetValue(e.Hash, out Entry? first))
            return;
        if (first == e)
        {
            if (e.NextSameHash is null)
                _pendingEgress.Remove(e.Hash);
            else
                _pendingEgress[e.Hash] = e.NextSameHash;
            return;
        }
        for (Entry? p = first; p is not null; p = p.NextSameHash)
        {
            if (p.NextSameHash == e)
            {
                p.NextSameHash = e.NextSameHash;
                return;
            }
        }
    }

    private void WritePacket(Entry e)
    {
        ref readonly PacketEvent h = ref e.Packet;
        PacketSide side = h.IsEgress ? PacketSide.Out : PacketSide.In;
        OwnerSource s1 = Resolve(in h, side, e, out SockOwner o1);
        bool keep1 = Keep(s1, in o1);
        OwnerSource s2 = OwnerSource.None;
        SockOwner o2 = default;
        bool keep2 = false;
        if (e.HasPeer)
        {
            s2 = Resolve(in e.Peer, PacketSide.In, e, out o2);
            keep2 = Keep(s2, in o2);
        }
        if (!keep1 && !keep2)
        {
            Counters.Filtered++;
            return;
        }

        int iface = _interfaces.Get(h.HasNetns ? h.Netns : 0, h.Ifindex);
        ulong ts = (ulong)_clock.ToUnixNs(h.TsNs);
        ReadOnlySpan<byte> data = e.Data.AsSpan(0, e.DataLength);
        _writer.BeginEnhancedPacket(iface, ts, data, Math.Max(h.Len, (uint)data.Length));
        ContextText? t1 = keep1 ? _contexts.Get(side, h.Cookie, s1, in o1) : null;
        ContextText? t2 = keep2 ? _contexts.Get(PacketSide.In, e.Peer.Cookie, s2, in o2) : null;
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
    private OwnerSource Resolve(in PacketEvent h, PacketSide side, Entry e, out SockOwner owner)
    {
        if (h.HasOwner)
        {
            owner = h.Owner;
            return OwnerSource.Socket;
        }
        if (h.Cookie != 0 && _lookup(h.Cookie, out owner))
        {
            if (e.HasTuple)
                Learn(in h, in e.Tuple, in owner);
            return OwnerSource.Socket;
        }
        if (e.HasTuple && e.Tuple.HasPorts && _connections.TryGetValue(ConnectionKey.Of(in h, side, in e.Tuple), out owner))
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
