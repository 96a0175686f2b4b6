using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sysstream.Bench;

/// <summary>What one run of a workload did.</summary>
/// <param name="Rate">Throughput in the workload's unit (requests/s, round trips/s ...).</param>
/// <param name="Ops">Operations done (requests, round trips, datagrams received).</param>
/// <param name="Syscalls">Network system calls it made, when it counts them itself (a tracer that
/// shows entry and return shows twice as many events).</param>
/// <param name="DataCalls">Of those, the send and receive calls (what sock_send_length and
/// sock_recv_length see).</param>
public sealed record WorkloadRun(double Rate, long Ops, double Seconds, long? Syscalls, long? DataCalls);

/// <summary>A load on loopback that the harness runs with and without each tracer.</summary>
public abstract class Workload : IDisposable
{
    /// <summary>Short id: nginx-keepalive, tcp-pingpong ...</summary>
    public abstract string Id { get; }
    public abstract string Title { get; }
    public abstract string Unit { get; }
    /// <summary>The command line, for the report.</summary>
    public abstract string Command { get; }
    /// <summary>The process name of the workload when it counts its own system calls: the
    /// tracer's output can then be checked against it exactly.</summary>
    public virtual string? Comm => null;

    public virtual void Start()
    {
    }

    public abstract WorkloadRun Run(double seconds);

    public virtual void Dispose()
    {
    }

    protected static (string Stdout, string Stderr, int Code) Exec(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        p.StandardInput.Close();
        Task<string> err = p.StandardError.ReadToEndAsync();
        Task<string> outp = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        return (outp.Result, err.Result, p.ExitCode);
    }
}

/// <summary>nginx with one worker serving a small static page, loaded by wrk over keep-alive
/// connections, or with `Connection: close` (a connect, accept and close per request).</summary>
public sealed partial class NginxWrkWorkload : Workload
{
    private readonly bool _keepAlive;
    private readonly string _dir;
    private readonly int _connections;
    private Process? _nginx;
    private int _port;

    public NginxWrkWorkload(bool keepAlive, string workDir, int connections)
    {
        _keepAlive = keepAlive;
        _connections = connections;
        _dir = Path.Combine(workDir, keepAlive ? "nginx-keepalive" : "nginx-close");
    }

    public override string Id => _keepAlive ? "nginx-keepalive" : "nginx-close";
    public override string Title => _keepAlive
        ? $"nginx (1 worker) + wrk, keep-alive, {_connections} connections"
        : $"nginx (1 worker) + wrk, `Connection: close`, {_connections} connections";
    public override string Unit => "requests/s";
    public override string Command =>
        $"wrk -t1 -c{_connections} -d<S>s{(_keepAlive ? "" : " -H 'Connection: close'")} http://127.0.0.1:<port>/index.html";

    public override void Start()
    {
        Directory.CreateDirectory(_dir);
        _port = FreePort();
        // 612 bytes, like nginx's own welcome page.
        File.WriteAllText(Path.Combine(_dir, "index.html"), new string('x', 611) + "\n");
        string conf = $$"""
            worker_processes 1;
            daemon off;
            master_process on;
            pid {{_dir}}/nginx.pid;
            error_log {{_dir}}/error.log warn;
            events { worker_connections 1024; }
            http {
              access_log off;
              keepalive_requests 100000000;
              client_body_temp_path {{_dir}}/body;
              proxy_temp_path {{_dir}}/proxy;
              fastcgi_temp_path {{_dir}}/fastcgi;
              uwsgi_temp_path {{_dir}}/uwsgi;
              scgi_temp_path {{_dir}}/scgi;
              server {
                listen 127.0.0.1:{{_port}};
                root {{_dir}};
                location / { }
              }
            }
            """;
        string confPath = Path.Combine(_dir, "nginx.conf");
        File.WriteAllText(confPath, conf);
        var psi = new ProcessStartInfo("nginx")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        foreach (string a in new[] { "-c", confPath, "-p", _dir })
            psi.ArgumentList.Add(a);
        _nginx = Process.Start(psi) ?? throw new InvalidOperationException("cannot start nginx");
        _nginx.StandardInput.Close();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, _port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_nginx.HasExited)
            {
                Thread.Sleep(50);
            }
            catch (SocketException)
            {
                string log = File.Exists(Path.Combine(_dir, "error.log")) ? File.ReadAllText(Path.Combine(_dir, "error.log")) : "";
                throw new InvalidOperationException($"nginx did not start on 127.0.0.1:{_port}: {log.Trim()}");
            }
        }
    }

    public override WorkloadRun Run(double seconds)
    {
        int s = Math.Max(1, (int)Math.Round(seconds));
        var args = new List<string> { "-t1", $"-c{_connections}", $"-d{s}s", "--timeout", "5s" };
        if (!_keepAlive)
            args.AddRange(["-H", "Connection: close"]);
        args.Add($"http://127.0.0.1:{_port}/index.html");
        var (stdout, stderr, code) = Exec("wrk", args, TimeSpan.FromSeconds(s + 30));
        Match rate = RequestsPerSecond().Match(stdout);
        Match total = RequestsIn().Match(stdout);
        if (code != 0 || !rate.Success || !total.Success)
            throw new InvalidOperationException($"wrk failed ({code}): {stdout}{stderr}");
        Match errors = NonSuccess().Match(stdout);
        if (errors.Success)
            Console.Error.WriteLine($"bench: wrk reported errors: {errors.Value.Trim()}");
        return new WorkloadRun(
            double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture),
            double.Parse(total.Groups[2].Value, CultureInfo.InvariantCulture) * (total.Groups[3].Value == "ms" ? 0.001 : total.Groups[3].Value == "m" ? 60 : 1),
            null, null);
    }

    public override void Dispose()
    {
        if (_nginx is { HasExited: false })
        {
            // SIGQUIT: graceful stop of master and worker.
            Exec("kill", ["-QUIT", _nginx.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
            if (!_nginx.WaitForExit(5_000))
                _nginx.Kill(entireProcessTree: true);
        }
        _nginx?.Dispose();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in ([0-9.]+)(ms|s|m)")]
    private static partial Regex RequestsIn();

    [GeneratedRegex(@"Non-2xx or 3xx responses: \d+|Socket errors:[^\n]*")]
    private static partial Regex NonSuccess();
}

/// <summary>A program from bench/workloads (built by run.sh) that prints one JSON line with its
/// rate and the exact number of network system calls it made.</summary>
public sealed class ToolWorkload : Workload
{
    private readonly string _path;

    public ToolWorkload(string id, string title, string unit, string toolPath, string comm)
    {
        Id = id;
        Title = title;
        Unit = unit;
        _path = toolPath;
        Comm = comm;
    }

    public override string Id { get; }
    public override string Title { get; }
    public override string Unit { get; }
    public override string? Comm { get; }
    public override string Command => $"{Path.GetFileName(_path)} <S>";

    public override WorkloadRun Run(double seconds)
    {
        var (stdout, stderr, code) = Exec(_path, [seconds.ToString("0.###", CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(seconds + 60));
        if (code != 0)
            throw new InvalidOperationException($"{_path} failed ({code}): {stderr.Trim()}");
        using var doc = JsonDocument.Parse(stdout);
        JsonElement r = doc.RootElement;
        return new WorkloadRun(
            r.GetProperty("rate").GetDouble(),
            r.GetProperty("ops").GetInt64(),
            r.GetProperty("seconds").GetDouble(),
            r.GetProperty("syscalls").GetInt64(),
            r.GetProperty("data_calls").GetInt64());
    }
}
