using System.Net;
using BenchmarkDotNet.Attributes;
using Sysstream.Aggregation;
using Sysstream.Events;
using Sysstream.Top.Batch;

namespace Sysstream.Benchmarks;

/// <summary>
/// One `top -o json` snapshot under connection churn (nginx + wrk with `Connection: close`):
/// the frame of 16,384 connections (the kernel map's default size, nearly all closed and kept
/// for `--keep`) and 2 processes, written to a null stream. Per snapshot.
/// </summary>
[MemoryDiagnoser]
public class TopBenchmarks
{
    private const ulong Second = 1_000_000_000;
    private TopFrame _frame = null!;
    private readonly EventClock _clock = new(1_000_000_000_000);

    private sealed class Facts : IProcessFacts
    {
        public string UserName(uint uid) => uid == 0 ? "root" : "nobody";

        public string CommandLine(int pid, ulong startNs) => pid == 2 ? "nginx: worker process" : "wrk -t1 -c16 http://127.0.0.1:18081/";
    }

    [GlobalSetup]
    public void Setup()
    {
        var conns = new List<ConnectionTotals>();
        var loopback = IPAddress.Loopback;
        for (int i = 0; i < 16_384; i++)
        {
            bool client = (i & 1) == 0;
            ushort port = (ushort)(32768 + i / 2);
            bool open = i >= 16_384 - 32;
            conns.Add(new ConnectionTotals
            {
                Cookie = (ulong)(1000 + i),
                Family = Sock.AF_INET,
                Protocol = Sock.IPPROTO_TCP,
                SocketType = 1,
                LocalAddress = loopback,
                LocalPort = client ? port : (ushort)18081,
                RemoteAddress = loopback,
                RemotePort = client ? (ushort)18081 : port,
                State = (byte)(open ? 1 : 7),
                TxBytes = client ? 87UL : 612UL,
                RxBytes = client ? 612UL : 87UL,
                TxCalls = 1,
                RxCalls = 1,
                SrttUs = 40 + (uint)(i % 50),
                FirstNs = Second + (ulong)i * 40_000,
                LastNs = Second + (ulong)i * 40_000 + 30_000,
                CloseNs = open ? 0 : Second + (ulong)i * 40_000 + 35_000,
                Flags = (client ? TopConnFlags.Active : TopConnFlags.Passive) | TopConnFlags.Established | (open ? 0 : TopConnFlags.Closed),
                OwnerPid = client ? 1 : 2,
                OwnerStartNs = 1000,
                OwnerComm = client ? "wrk" : "nginx",
                OwnerUid = client ? 0u : 65534u,
                Inode = (ulong)(500_000 + i),
            });
        }
        var procs = new List<ProcessTotals>
        {
            new() { Pid = 1, StartNs = 1000, Comm = "wrk", TxBytes = 8192 * 87, RxBytes = 8192 * 612, TxCalls = 8192, RxCalls = 8192, FirstNs = Second, LastNs = 2 * Second },
            new() { Pid = 2, StartNs = 1000, Comm = "nginx", Uid = 65534, TxBytes = 8192 * 612, RxBytes = 8192 * 87, TxCalls = 8192, RxCalls = 8192, FirstNs = Second, LastNs = 2 * Second },
        };
        var before = new TopSnapshot { TakenNs = Second, Processes = [], Connections = [] };
        var now = new TopSnapshot { TakenNs = 2 * Second, Processes = procs, Connections = conns };
        _frame = FrameBuilder.Build(before, now, new Facts());
    }

    [Benchmark]
    public void WriteSnapshotJson() => new TopJsonWriter(Stream.Null, _clock).Write(_frame);
}
