using Sysstream.Events;
using Xunit;

namespace Sysstream.Tests.Reorder;

public class ReorderBufferTests
{
    private sealed class Collect : IEventSink
    {
        public readonly List<(ulong Ts, string Kind, uint Tid)> Seen = new();
        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths) =>
            Seen.Add((ev.TsNs, hasUnixPaths ? "unix" : "sys", ev.Tid));
        public void OnLost(in LostEvent lost) => Seen.Add((lost.TsNs, "lost", 0));
        public void Flush() { }
    }

    private static SyscallEvent At(ulong ts, uint tid = 0) => new() { Type = (ushort)EventType.Syscall, TsNs = ts, Tid = tid };

    [Fact]
    public void Releases_in_timestamp_order_only_what_is_older_than_the_limit()
    {
        var rb = new ReorderBuffer(16);
        var sink = new Collect();
        foreach (ulong ts in new ulong[] { 10, 30, 20, 50, 40 })
        {
            var ev = At(ts);
            rb.AddSyscall(in ev);
        }
        var lost = new LostEvent { Type = (ushort)EventType.Lost, TsNs = 25, Count = 3 };
        rb.AddLost(in lost);
        var unix = new SyscallEventUnix { Ev = At(35) };
        rb.AddSyscallUnix(in unix);

        rb.Release(30, sink);
        Assert.Equal(new ulong[] { 10, 20, 25, 30 }, sink.Seen.Select(s => s.Ts));
        Assert.Equal("lost", sink.Seen[2].Kind);
        Assert.Equal(3, rb.Count);

        rb.ReleaseAll(sink);
        Assert.Equal(new ulong[] { 10, 20, 25, 30, 35, 40, 50 }, sink.Seen.Select(s => s.Ts));
        Assert.Equal("unix", sink.Seen[4].Kind);
        Assert.Equal(0, rb.LateRecords);
    }

    [Fact]
    public void A_record_later_than_the_window_never_makes_time_go_backwards()
    {
        var rb = new ReorderBuffer(16);
        var sink = new Collect();
        var a = At(100);
        rb.AddSyscall(in a);
        rb.Release(100, sink);
        var late = At(90, tid: 7);
        rb.AddSyscall(in late);
        rb.ReleaseAll(sink);

        Assert.Equal(new ulong[] { 100, 100 }, sink.Seen.Select(s => s.Ts));
        Assert.Equal(7u, sink.Seen[1].Tid);
        Assert.Equal(1, rb.LateRecords);
    }

    [Fact]
    public void Grows_past_its_first_capacity_keeping_order_across_the_wrap()
    {
        var rb = new ReorderBuffer(16);
        var sink = new Collect();
        var rng = new Random(7);
        var all = new List<ulong>();
        ulong t = 1000;
        for (int round = 0; round < 50; round++)
        {
            for (int i = 0; i < 40; i++)
            {
                // nearly ordered, as records from several CPUs are
                ulong ts = t + (ulong)rng.Next(0, 50);
                t += 10;
                all.Add(ts);
                var ev = At(ts);
                rb.AddSyscall(in ev);
            }
            rb.Release(t - 100, sink);
        }
        rb.ReleaseAll(sink);
        all.Sort();
        Assert.Equal(all, sink.Seen.Select(s => s.Ts));
        Assert.Equal(0, rb.LateRecords);
    }
}
