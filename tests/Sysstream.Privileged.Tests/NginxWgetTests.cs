using System.Globalization;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static Sysstream.Privileged.Tests.Infrastructure.TraceEventQueries;

namespace Sysstream.Privileged.Tests;

/// <summary>
/// A real HTTP fetch on loopback: wget or curl against nginx. The trace follows the client (run
/// as the traced command) and the nginx worker (--pid), so nothing else on the machine shows.
/// Checked: the client's calls carry the client's process and the connection's tuple, the server's
/// carry the worker's (the loopback trap: the server's receive path runs in the client's context),
/// and the bytes each side moved equal what nginx logged as sent, exactly.
/// </summary>
public sealed class NginxWgetTests(ITestOutputHelper log)
{
    private const string Localhost = "127.0.0.1";

    [PrivilegedFact]
    public async Task Wget_fetch_is_attributed_to_wget_and_to_the_nginx_worker()
    {
        string wget = Tools.Wget;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 100_000);
        Fetch f = await FetchAsync(nginx, $"{wget} -q -O /dev/null {nginx.Url}");

        TraceEvent connect = CheckClientConnect(f, nginx.Port, "wget", expectedRet: 0, expectedError: null);
        int lport = (int)connect.Lport!.Value;
        AccessLogEntry entry = await nginx.WaitForRequestAsync(lport);
        log.WriteLine($"access log: {entry}");
        Assert.Equal(200, entry.Status);

        var client = f.Run.Events.OnTuple(Localhost, lport, Localhost, nginx.Port).ToList();
        CheckClientSide(f, client, connect, "wget");
        // wget peeks at the headers with recv(MSG_PEEK), which consumes nothing, and then
        // consumes the whole response with read(): the read()s add up to what nginx sent.
        Expect.Equal(entry.BytesSent, client.Exits("read").SumBytes(), "bytes wget read() on the connection (nginx's $bytes_sent)");
        Expect.True(client.Exits("recvfrom").Any(), "wget's header peek (recvfrom) is missing", client);
        long requestBytes = client.Exits(SendCalls).SumBytes();
        Expect.True(requestBytes > 0, "wget sent no request bytes", client);

        CheckServerSide(f, nginx, entry, lport, requestBytes);
    }

    [PrivilegedFact]
    public async Task Curl_fetch_is_attributed_to_curl_and_to_the_nginx_worker()
    {
        string curl = Tools.Curl;
        await using NginxServer nginx = await NginxServer.StartAsync(fileSize: 54_321);
        Fetch f = await FetchAsync(nginx, $"{curl} -s -o /dev/null {nginx.Url}");

        // curl connects non-blocking: the local port is assigned when connect returns EINPROGRESS.
        TraceEvent connect = CheckClientConnect(f, nginx.Port, "curl", expectedRet: -115, expectedError: "EINPROGRESS");
        int lport = (int)connect.Lport!.Value;
        AccessLogEntry entry = await nginx.WaitForRequestAsync(lport);
        log.WriteLine($"access log: {entry}");
        Assert.Equal(200, entry.Status);

        var client = f.Run.Events.OnTuple(Localhost, lport, Localhost, nginx.Port).ToList();
        CheckClientSide(f, client, connect, "curl");
        Expect.Equal(entry.BytesSent, client.Exits(RecvCalls).SumBytes(), "bytes curl received on the connection (nginx's $bytes_sent)");
        long requestBytes = client.Exits(SendCalls).SumBytes();
        Expect.True(requestBytes > 0, "curl sent no request bytes", client);

        CheckServerSide(f, nginx, entry, lport, requestBytes);
    }

    private sealed record Fetch(TraceResult Run, int ClientPid, int ShellPid);

    /// <summary>
    /// Runs the client through `sysstream trace --pid WORKER -- sh -c 'CLIENT & ...'`: the shell
    /// records the client's pid and its own, and lingers a little after the client so that the
    /// worker's last calls are still traced.
    /// </summary>
    private async Task<Fetch> FetchAsync(NginxServer nginx, string client)
    {
        using var tmp = new TempDir("fetch");
        string pids = tmp.File("pids");
        string script = $"{client} & echo $! $$ > {pids}.tmp; mv {pids}.tmp {pids}; wait $!; rc=$?; sleep 0.5; exit $rc";
        await using TraceRun run = await TraceRun.StartAsync(log,
            ["trace", "-o", "json", "--pid", nginx.WorkerPid.ToString(CultureInfo.InvariantCulture), "--", Tools.Sh, "-c", script]);
        TraceResult r = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Expect.Equal(0, r.ExitCode, $"exit code of trace (the client's exit code)\n{r.Describe()}");
        string[] ids = File.ReadAllText(pids).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int clientPid = int.Parse(ids[0], CultureInfo.InvariantCulture);
        int shellPid = int.Parse(ids[1], CultureInfo.InvariantCulture);
        log.WriteLine($"client pid {clientPid}, shell pid {shellPid}, nginx master {nginx.MasterPid}, worker {nginx.WorkerPid}, port {nginx.Port}");
        Expect.Equal(0L, r.SummaryLost, $"lost events\n{r.Describe()}");
        return new Fetch(r, clientPid, shellPid);
    }

    /// <summary>socket() and connect() of the client: fd, tuple, process context.</summary>
    private static TraceEvent CheckClientConnect(Fetch f, int port, string comm, long expectedRet, string? expectedError)
    {
        var mine = f.Run.OfPid(f.ClientPid).ToList();
        Expect.True(mine.Count > 0, $"no events with the client's pid {f.ClientPid}\n{f.Run.Describe()}");

        TraceEvent connect = Expect.Single(
            mine.Where(e => e.Is("connect", "exit") && e.Rport == port),
            "connect exit of the client to nginx", mine.Exits("connect", "socket"), f.Run);
        Expect.Equal<long?>(expectedRet, connect.Ret, "connect ret", connect);
        Expect.Equal(expectedError, connect.Error, "connect error", connect);
        Expect.Equal("127.0.0.1", connect.Raddr, "connect raddr", connect);
        Expect.Equal("127.0.0.1", connect.Laddr, "connect laddr", connect);
        Expect.True(connect.Lport is > 0, $"connect exit has no local port:\n{connect}");
        Expect.Equal("inet", connect.Family, "connect family", connect);
        Expect.Equal("tcp", connect.Proto, "connect proto", connect);
        Expect.True(connect.Cookie is > 0, $"connect exit has no socket cookie:\n{connect}");
        CheckProcess(connect, f.ClientPid, f.ShellPid, comm, "sh", 0, 0);
        long fd = connect.Fd ?? -1;
        Expect.True(fd >= 0, $"connect exit has no fd:\n{connect}");

        TraceEvent enter = Expect.Single(mine.Where(e => e.Is("connect", "enter") && e.Fd == fd && e.Line < connect.Line).TakeLast(1),
            "connect enter", mine.Enters("connect"), f.Run);
        Expect.Equal("127.0.0.1", enter.Raddr, "connect enter raddr (from the sockaddr)", enter);
        Expect.Equal<long?>(port, enter.Rport, "connect enter rport", enter);
        CheckProcess(enter, f.ClientPid, f.ShellPid, comm, "sh", 0, 0);

        // The socket() whose descriptor was connected: the last one returning that fd before the connect.
        TraceEvent socket = Expect.Single(mine.Where(e => e.Is("socket", "exit") && e.Ret == fd && e.Line < connect.Line).TakeLast(1),
            $"socket exit returning fd {fd}", mine.Exits("socket"), f.Run);
        Expect.Equal<long?>(fd, socket.Fd, "socket exit fd", socket);
        Expect.Equal("inet", socket.Family, "socket family", socket);
        Expect.Equal("tcp", socket.Proto, "socket proto", socket);
        Expect.Equal<string?>(null, socket.Error, "socket error", socket);
        CheckProcess(socket, f.ClientPid, f.ShellPid, comm, "sh", 0, 0);
        return connect;
    }

    /// <summary>Every event of the client's end of the connection is the client's, on one fd and one cookie.</summary>
    private static void CheckClientSide(Fetch f, List<TraceEvent> client, TraceEvent connect, string comm)
    {
        Expect.True(client.Count > 0, "no events on the client's end of the connection");
        Expect.All(client, e => e.Pid == f.ClientPid && e.Tid == f.ClientPid && e.Comm == comm,
            $"every event on the client's end belongs to {comm} (pid {f.ClientPid})");
        Expect.All(client, e => e.Fd == connect.Fd, $"every event on the client's end is on fd {connect.Fd}");
        Expect.All(client.Where(e => e.IsExit), e => e.Cookie == connect.Cookie,
            $"every exit on the client's end carries the connection's cookie {connect.Cookie}");
        Expect.All(client, e => e.Uid == 0 && e.Gid == 0 && e.Ppid == f.ShellPid && e.Pcomm == "sh",
            "every client event has uid 0, gid 0 and the shell as parent");
        Expect.All(client.Exits(SendCalls.Concat(RecvCalls).ToArray()), e => e.Error is not null || e.Bytes == e.Ret,
            "bytes equals ret on every successful data call");
    }

    /// <summary>
    /// The server's end: accept4 returns the peer tuple, every event is the worker's, the bytes it
    /// sent add up to $bytes_sent (headers by writev, the file by sendfile), it read the request.
    /// </summary>
    private void CheckServerSide(Fetch f, NginxServer nginx, AccessLogEntry entry, int clientPort, long requestBytes)
    {
        TraceResult r = f.Run;
        Expect.Equal(nginx.WorkerPid, entry.WorkerPid, "nginx's $pid in the access log is the worker we traced");
        (uint uid, uint gid) = Posix.Ids(nginx.WorkerPid);

        var server = r.Events.OnTuple(Localhost, nginx.Port, Localhost, clientPort).ToList();
        TraceEvent accept = Expect.Single(server.Where(e => e.Func is "accept4" or "accept" && e.IsExit),
            $"accept exit with the peer 127.0.0.1:{clientPort}", r.OfPid(nginx.WorkerPid).Exits("accept4", "accept"), r);
        log.WriteLine($"accept: {accept}");
        CheckProcess(accept, nginx.WorkerPid, nginx.MasterPid, "nginx", "nginx", uid, gid);
        long connFd = accept.Ret ?? -1;
        Expect.True(connFd >= 0, $"accept returned no descriptor:\n{accept}");
        Expect.True(accept.Cookie is > 0, $"accept exit has no socket cookie:\n{accept}");

        Expect.All(server, e => e.Pid == nginx.WorkerPid && e.Comm == "nginx",
            $"every event on the server's end belongs to the nginx worker (pid {nginx.WorkerPid}), none to the client (pid {f.ClientPid})");
        Expect.All(server.Where(e => e != accept), e => e.Fd == connFd, $"every call on the server's end uses the accepted fd {connFd}");
        Expect.All(server.Where(e => e.IsExit), e => e.Cookie == accept.Cookie,
            $"every exit on the server's end carries the accepted socket's cookie {accept.Cookie}");
        Expect.All(server, e => e.Uid == uid && e.Gid == gid && e.Ppid == nginx.MasterPid,
            $"every server event has the worker's uid {uid}, gid {gid} and the master as parent");

        var sends = server.Exits(SendCalls).ToList();
        Expect.Equal(entry.BytesSent, sends.SumBytes(), "bytes the worker sent on the connection (nginx's $bytes_sent)");
        Expect.Equal((long)nginx.FileSize, sends.Where(e => e.Func == "sendfile").SumBytes(), "bytes the worker sent with sendfile (the file)");
        Expect.Equal(entry.BytesSent - nginx.FileSize, sends.Where(e => e.Func is "writev" or "write").SumBytes(), "bytes the worker sent with write/writev (the headers)");
        Expect.Equal(requestBytes, server.Exits(RecvCalls).SumBytes(), "bytes the worker received (the client's request)");
    }

    private static void CheckProcess(TraceEvent e, int pid, int ppid, string comm, string pcomm, uint uid, uint gid)
    {
        Expect.Equal((long)pid, e.Pid, "pid", e);
        Expect.Equal((long)pid, e.Tid, "tid (single-threaded)", e);
        Expect.Equal((long)ppid, e.Ppid, "ppid", e);
        Expect.Equal(comm, e.Comm, "comm", e);
        Expect.Equal(pcomm, e.Pcomm, "pcomm", e);
        Expect.Equal((long)uid, e.Uid, "uid", e);
        Expect.Equal((long)gid, e.Gid, "gid", e);
    }
}
