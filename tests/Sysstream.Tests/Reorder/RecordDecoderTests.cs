using System.Runtime.InteropServices;
using Sysstream.Events;
using Xunit;

namespace Sysstream.Tests.Reorder;

/// <summary>Records as the kernel writes them, decoded from bytes; garbage is counted, never thrown.</summary>
public class RecordDecoderTests
{
    private sealed class Collect : IEventSink
    {
        public readonly List<string> Seen = new();
        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths) =>
            Seen.Add($"{(Func)ev.Func}/{ev.Pid}/{ev.Cpu}/{(hasUnixPaths ? "unix" : "inet")}");
        public void OnLost(in LostEvent lost) => Seen.Add($"lost/{lost.Cpu}/{lost.Count}");
        public void Flush() { }
    }

    private static byte[] Bytes<T>(T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    [Fact]
    public void Decodes_each_record_type_by_its_tag()
    {
        var reorder = new ReorderBuffer();
        var decoder = new RecordDecoder(reorder, cpus: 2);
        var sys = new SyscallEvent { Type = (ushort)EventType.Syscall, Func = (byte)Func.Connect, Pid = 42, Cpu = 1, TsNs = 10 };
        var unix = new SyscallEventUnix { Ev = sys };
        unix.Ev.Type = (ushort)EventType.SyscallUnix;
        unix.Ev.TsNs = 20;
        unix.Ev.Cpu = 0;
        var lost = new LostEvent { Type = (ushort)EventType.Lost, Cpu = 1, TsNs = 30, Count = 5 };

        decoder.Decode(Bytes(sys));
        decoder.Decode(Bytes(unix));
        decoder.Decode(Bytes(lost));
        var sink = new Collect();
        reorder.ReleaseAll(sink);

        Assert.Equal(["Connect/42/1/inet", "Connect/42/0/unix", "lost/1/5"], sink.Seen);
        Assert.Equal(2, decoder.Records);
        Assert.Equal(new long[] { 1, 1 }, decoder.PerCpu);
        Assert.Equal(5, decoder.LostReported);
        Assert.Equal(0, decoder.Malformed);
    }

    private sealed class Keep : IEventSink
    {
        public readonly List<SyscallEvent> Events = new();
        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths) => Events.Add(ev);
        public void OnLost(in LostEvent lost) { }
        public void Flush() { }
    }

    [Fact]
    public void A_record_that_carries_its_entry_becomes_the_entry_and_the_exit_in_time_order()
    {
        var reorder = new ReorderBuffer();
        var decoder = new RecordDecoder(reorder, cpus: 2);
        var call = new SyscallEvent
        {
            Type = (ushort)EventType.Syscall, Phase = (byte)Phase.Exit, Func = (byte)Func.Recvfrom, Pid = 7, Tid = 8, Cpu = 1, Fd = 5,
            TsNs = 1_000, DurationNs = 300, Ret = 120, ReqBytes = 4096,
            Flags = (uint)(EventFlags.Sock | EventFlags.Seq | EventFlags.WithEntry),
        };
        call.Sk.Cookie = 99;
        call.Sk.Lport = 8080;
        call.Sk.Seq = 12345;
        // another thread's event written before it, between the call's entry and exit
        var other = new SyscallEvent { Type = (ushort)EventType.Syscall, Phase = (byte)Phase.Exit, Func = (byte)Func.Write, Pid = 9, Cpu = 0, TsNs = 900 };

        decoder.Decode(Bytes(other));
        decoder.Decode(Bytes(call));
        var sink = new Keep();
        reorder.ReleaseAll(sink);

        Assert.Equal(3, decoder.Records);
        Assert.Equal(new long[] { 1, 2 }, decoder.PerCpu);
        Assert.Equal([700UL, 900UL, 1_000UL], sink.Events.Select(e => e.TsNs));
        SyscallEvent entry = sink.Events[0], exit = sink.Events[2];
        Assert.Equal(Phase.Enter, entry.PhaseKind);
        Assert.Equal(0, entry.Ret);
        Assert.Equal(0UL, entry.DurationNs);
        Assert.Equal(Phase.Exit, exit.PhaseKind);
        Assert.Equal(120, exit.Ret);
        Assert.Equal(300UL, exit.DurationNs);
        foreach (SyscallEvent e in new[] { entry, exit })
        {
            Assert.Equal(Func.Recvfrom, e.FuncKind);
            Assert.Equal((7u, 8u, 1u, 5), (e.Pid, e.Tid, e.Cpu, e.Fd));
            Assert.Equal(4096UL, e.ReqBytes);
            Assert.Equal(EventFlags.Sock | EventFlags.Seq, e.EventFlags);
            Assert.Equal((99UL, (ushort)8080, 12345u), (e.Sk.Cookie, e.Sk.Lport, e.Sk.Seq));
        }
    }

    [Fact]
    public void Truncated_unknown_and_random_records_are_counted_as_malformed()
    {
        var reorder = new ReorderBuffer();
        var decoder = new RecordDecoder(reorder, cpus: 2);
        byte[] sys = Bytes(new SyscallEvent { Type = (ushort)EventType.Syscall, Cpu = 7 });

        decoder.Decode([]);
        decoder.Decode([1]);
        decoder.Decode(sys.AsSpan(0, sys.Length - 1));
        decoder.Decode(Bytes(new LostEvent { Type = 99 }));
        Assert.Equal(4, decoder.Malformed);
        Assert.Equal(0, reorder.Count);

        // A CPU number beyond the table is still decoded, just not counted per CPU.
        decoder.Decode(sys);
        Assert.Equal(1, decoder.Records);
        Assert.Equal(1, reorder.Count);

        var rng = new Random(1234);
        for (int i = 0; i < 2000; i++)
        {
            byte[] junk = new byte[rng.Next(0, 600)];
            rng.NextBytes(junk);
            decoder.Decode(junk);
        }
        // every one of the 2005 records is either decoded (syscall or lost record) or counted as malformed
        Assert.Equal(2005, decoder.Records + decoder.Malformed + CountLostRecords(reorder));
    }

    private static long CountLostRecords(ReorderBuffer reorder)
    {
        var sink = new Collect();
        reorder.ReleaseAll(sink);
        return sink.Seen.Count(s => s.StartsWith("lost", StringComparison.Ordinal));
    }
}
