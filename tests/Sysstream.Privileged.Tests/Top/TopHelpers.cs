using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Top;

/// <summary>One line of the fixture's access log: <c>$pid $bytes_sent $request_length $remote_port $status</c>.</summary>
public sealed record TopAccessLogEntry(int WorkerPid, long BytesSent, long RequestLength, int RemotePort, int Status);

/// <summary>
/// nginx on 127.0.0.1 with its own configuration: one worker, serving a file of exactly
/// <see cref="FileSize"/> bytes, logging per request what it sent and how long the request was.
/// </summary>
public sealed class TopNginx : IAsyncDisposable
{
    private readonly TempDir _dir;
    private readonly Process _master;

    public int Port { get; }
    public int WorkerPid { get; }
    public int FileSize { get; }
    public string Url(string file = "file.bin") => $"http://127.0.0.1:{Port}/{file}";

    private TopNginx(TempDir dir, Process master, int port, int worker, int size)
    {
        _dir = dir;
        _master = master;
        Port = port;
        WorkerPid = worker;
        FileSize = size;
    }

    public static async Task<TopNginx> StartAsync(int fileSize)
    {
        string nginx = Tools.Nginx;
        var dir = new TempDir("top-nginx");
        string www = dir.Sub("www");
        File.WriteAllBytes(Path.Combine(www, "file.bin"), Enumerable.Range(0, fileSize).Select(i => (byte)(i * 7 + 3)).ToArray());
        File.WriteAllBytes(Path.Combine(www, "tiny.bin"), new byte[100]);
        int port = NginxServer.FreeTcpPort();
        File.WriteAllText(dir.File("nginx.conf"), $$"""
            daemon off;
            master_process on;
            worker_processes 1;
            pid {{dir.File("nginx.pid")}};
            error_log {{dir.File("error.log")}} info;
            events { worker_connections 64; }
            http {
                default_type application/octet-stream;
                sendfile on;
                log_format top '$pid $bytes_sent $request_length $remote_port $status';
                access_log {{dir.File("access.log")}} top;
                client_body_temp_path {{dir.File("cb")}};
                proxy_temp_path {{dir.File("px")}};
                fastcgi_temp_path {{dir.File("fc")}};
                uwsgi_temp_path {{dir.File("uw")}};
                scgi_temp_path {{dir.File("sc")}};
                server {
                    listen 127.0.0.1:{{port}};
                    root {{www}};
                }
            }
            """);
        Process master = Workload.Start(nginx, ["-c", dir.File("nginx.conf"), "-p", dir.Path + "/", "-e", dir.File("error.log")]);
        int worker;
        try
        {
            worker = await NginxServer.WaitReadyAsync(master, port, dir);
        }
        catch
        {
            if (!master.HasExited)
                master.Kill(entireProcessTree: true);
            throw;
        }
        return new TopNginx(dir, master, port, worker, fileSize);
    }

    public async Task<TopAccessLogEntry> WaitForRequestAsync(int remotePort)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            foreach (string line in Read(_dir.File("access.log")).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                long[] f = line.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
                if (f[3] == remotePort)
                    return new TopAccessLogEntry((int)f[0], f[1], f[2], (int)f[3], (int)f[4]);
            }
            await Task.Delay(20);
        }
        throw new XunitException($"nginx logged nothing for client port {remotePort}: {Read(_dir.File("access.log"))}");
    }

    private static string Read(string path)
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

    public ValueTask DisposeAsync()
    {
        if (!_master.HasExited)
        {
            Posix.Signal(_master.Id, Posix.SIGTERM);
            if (!_master.WaitForExit(TimeSpan.FromSeconds(10)))
                _master.Kill(entireProcessTree: true);
        }
        _master.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Reading `top -o json` frames.</summary>
public static class TopFrames
{
    public static JsonElement Last(TraceResult r)
    {
        if (r.All.Count == 0)
            throw new XunitException("top printed no frame\n" + r.Describe());
        return r.All[^1].Json;
    }

    public static JsonElement? Process(JsonElement frame, int pid) =>
        frame.GetProperty("processes").EnumerateArray().Cast<JsonElement?>().FirstOrDefault(p => p!.Value.GetProperty("pid").GetInt32() == pid);

    public static JsonElement RequireProcess(JsonElement frame, int pid, string what) =>
        Process(frame, pid) ?? throw new XunitException($"no process row for {what} (pid {pid}) in:\n{Show(frame)}");

    public static IEnumerable<JsonElement> Connections(JsonElement frame) => frame.GetProperty("connections").EnumerateArray();

    public static long Long(this JsonElement e, string key) => e.GetProperty(key).GetInt64();

    public static string Show(JsonElement frame)
    {
        string text = frame.GetRawText();
        return text.Length > 4000 ? text[..4000] + "..." : text;
    }
}
