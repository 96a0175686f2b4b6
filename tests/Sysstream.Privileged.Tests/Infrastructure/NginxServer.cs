using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>One line of the fixture's access log: <c>$pid $bytes_sent $remote_port $status "$request"</c>.</summary>
public sealed record AccessLogEntry(int WorkerPid, long BytesSent, int RemotePort, int Status, string Request);

/// <summary>
/// A real nginx on 127.0.0.1 with its own configuration in a temp dir: one worker, daemon off,
/// sendfile on, serving a file of known size, logging who sent how many bytes to which client port.
/// </summary>
public sealed class NginxServer : IAsyncDisposable
{
    public const string FileName = "file.bin";

    private readonly TempDir _dir;
    private readonly Process _master;

    public int Port { get; }
    public int MasterPid => _master.Id;
    public int WorkerPid { get; }
    public int FileSize { get; }
    public string Url => $"http://127.0.0.1:{Port}/{FileName}";
    public string AccessLog => _dir.File("access.log");

    private NginxServer(TempDir dir, Process master, int port, int worker, int fileSize)
    {
        _dir = dir;
        _master = master;
        Port = port;
        WorkerPid = worker;
        FileSize = fileSize;
    }

    public static async Task<NginxServer> StartAsync(int fileSize = 100_000)
    {
        string nginx = Tools.Nginx;
        var dir = new TempDir("nginx");
        try
        {
            string www = dir.Sub("www");
            string file = Path.Combine(www, FileName);
            File.WriteAllBytes(file, Enumerable.Range(0, fileSize).Select(i => (byte)(i * 31 + 7)).ToArray());
            File.SetUnixFileMode(file, TempDir.Mode755 & ~UnixFileMode.UserExecute & ~UnixFileMode.GroupExecute & ~UnixFileMode.OtherExecute);
            int port = FreeTcpPort();
            string conf = dir.File("nginx.conf");
            File.WriteAllText(conf, Config(dir, port));
            Process master = Workload.Start(nginx, ["-c", conf, "-p", dir.Path + "/", "-e", dir.File("error.log")]);
            try
            {
                int worker = await WaitReadyAsync(master, port, dir);
                return new NginxServer(dir, master, port, worker, fileSize);
            }
            catch
            {
                Stop(master);
                throw;
            }
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    private static string Config(TempDir dir, int port) => $$"""
        daemon off;
        master_process on;
        worker_processes 1;
        pid {{dir.File("nginx.pid")}};
        error_log {{dir.File("error.log")}} info;
        events {
            worker_connections 64;
        }
        http {
            default_type application/octet-stream;
            sendfile on;
            log_format sysstream '$pid $bytes_sent $remote_port $status "$request"';
            access_log {{dir.File("access.log")}} sysstream;
            client_body_temp_path {{dir.File("client_body")}};
            proxy_temp_path {{dir.File("proxy")}};
            fastcgi_temp_path {{dir.File("fastcgi")}};
            uwsgi_temp_path {{dir.File("uwsgi")}};
            scgi_temp_path {{dir.File("scgi")}};
            server {
                listen 127.0.0.1:{{port}};
                root {{dir.File("www")}};
            }
        }
        """;

    public static int FreeTcpPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Waits for the listening port and the one worker process; returns the worker's pid.</summary>
    internal static async Task<int> WaitReadyAsync(Process master, int port, TempDir dir)
    {
        var sw = Stopwatch.StartNew();
        bool listening = false;
        while (sw.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (master.HasExited)
                throw new XunitException($"nginx exited with {master.ExitCode}: {ReadOrEmpty(dir.File("error.log"))} {await master.StandardError.ReadToEndAsync()}");
            if (!listening)
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    listening = true;
                }
                catch (SocketException)
                {
                }
            }
            if (listening)
            {
                List<int> workers = Posix.Children(master.Id);
                if (workers.Count == 1)
                    return workers[0];
            }
            await Task.Delay(20);
        }
        throw new XunitException($"nginx did not come up on 127.0.0.1:{port}: {ReadOrEmpty(dir.File("error.log"))}");
    }

    public IReadOnlyList<AccessLogEntry> ReadAccessLog()
    {
        var entries = new List<AccessLogEntry>();
        foreach (string line in ReadOrEmpty(AccessLog).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ', 4);
            entries.Add(new AccessLogEntry(
                int.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
                int.Parse(f[2], CultureInfo.InvariantCulture), int.Parse(f[3].Split(' ')[0], CultureInfo.InvariantCulture),
                f[3][(f[3].IndexOf(' ') + 1)..].Trim('"')));
        }
        return entries;
    }

    /// <summary>The log line of the request from a client port (nginx writes it once the response is out).</summary>
    public async Task<AccessLogEntry> WaitForRequestAsync(int remotePort, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)))
        {
            AccessLogEntry? e = ReadAccessLog().FirstOrDefault(x => x.RemotePort == remotePort);
            if (e is not null)
                return e;
            await Task.Delay(20);
        }
        throw new XunitException($"nginx logged no request from client port {remotePort}; access log:\n{ReadOrEmpty(AccessLog)}");
    }

    /// <summary>Waits until the access log has <paramref name="count"/> lines.</summary>
    public async Task<IReadOnlyList<AccessLogEntry>> WaitForRequestsAsync(int count, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)))
        {
            var entries = ReadAccessLog();
            if (entries.Count >= count)
                return entries;
            await Task.Delay(20);
        }
        throw new XunitException($"nginx logged fewer than {count} requests:\n{ReadOrEmpty(AccessLog)}");
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void Stop(Process master)
    {
        if (!master.HasExited)
        {
            // SIGTERM: fast shutdown of master and worker.
            Posix.Signal(master.Id, Posix.SIGTERM);
            if (!master.WaitForExit(TimeSpan.FromSeconds(10)))
                master.Kill(entireProcessTree: true);
        }
        master.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        Stop(_master);
        _master.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}
