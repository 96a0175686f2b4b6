using System.Net;
using System.Net.Sockets;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// The library path without the executable: TraceSession + RingBufferReader + a sink, for one
/// connect by another process (the session never traces its own process). Quick to debug.
/// </summary>
public sealed class InProcessApiTests(ITestOutputHelper log)
{
    private sealed class CollectingSink : IEventSink
    {
        public readonly List<SyscallEvent> Events = new();
        public readonly List<LostEvent> Lost = new();

        public void OnSyscall(in SyscallEvent ev, in UnixPaths unixPaths, bool hasUnixPaths)
        {
            lock (Events)
                Events.Add(ev);
        }

        public void OnLost(in LostEvent lost)
        {
            lock (Lost)
                Lost.Add(lost);
        }

        public void Flush()
        {
        }
    }

    [PrivilegedFact]
    public async Task One_connect_by_another_process_is_decoded()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var sink = new CollectingSink();
        Stats[] stats;
        ProcessOutcome client;
        using (TraceSession session = TraceSession.Start(new TraceOptions { Filter = TraceFilter.Parse(ports: [port]) }))
        using (var reader = new RingBufferReader(session, sink))
        {
            reader.Start();
            log.WriteLine($"attached: {string.Join(", ", session.Attached)}");
            Task<Socket> accepted = listener.AcceptSocketAsync();
            client = await Workload.RunOkAsync(Tools.Python,
                ["-c", "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); print(s.getsockname()[1]); s.close()", $"{port}"]);
            (await accepted).Dispose();
            reader.RequestStop();
            reader.Join();
            stats = session.ReadStats();
        }
        int clientPort = int.Parse(client.Stdout.Trim());
        log.WriteLine($"{sink.Events.Count} events; client pid {client.Pid} port {clientPort}");

        Assert.Empty(sink.Lost);
        Assert.Equal(0UL, stats.Aggregate(0UL, (n, s) => n + s.Lost));
        Assert.DoesNotContain(sink.Events, e => e.Pid == (uint)Environment.ProcessId);

        SyscallEvent connect = Assert.Single(sink.Events, e => e.FuncKind == Func.Connect && e.IsExit);
        Assert.Equal((uint)client.Pid, connect.Pid);
        Assert.Equal(0, connect.Ret);
        Assert.Equal(Sock.AF_INET, connect.Sk.Family);
        Assert.Equal(Sock.IPPROTO_TCP, connect.Sk.Protocol);
        Assert.Equal(port, connect.Sk.Rport);
        Assert.Equal(clientPort, connect.Sk.Lport);
        byte[] loopback = IPAddress.Loopback.MapToIPv6().GetAddressBytes();
        Assert.Equal(loopback, connect.Sk.RaddrBytes.ToArray());
        Assert.Equal(loopback, connect.Sk.LaddrBytes.ToArray());
        Assert.NotEqual(0UL, connect.Sk.Cookie);
        Assert.Equal("python3"u8.ToArray(), connect.CommSpan.ToArray());
        Assert.Equal((uint)Environment.ProcessId, connect.Ppid);

        SyscallEvent enter = Assert.Single(sink.Events, e => e.FuncKind == Func.Connect && !e.IsExit);
        Assert.True(enter.TsNs <= connect.TsNs);
        Assert.Equal(connect.TsNs - enter.TsNs, connect.DurationNs);
        Assert.Equal(enter.Fd, connect.Fd);
    }
}
