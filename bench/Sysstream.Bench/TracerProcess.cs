using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Sysstream.Bench;

/// <summary>How a tracer process ended, as ss-bench-exec measured it from outside.</summary>
public sealed record ExitInfo(int Status, double UtimeS, double StimeS, double CpuS, long MaxRssKib, double WallS);

/// <summary>
/// One tracer run under bench/workloads/ss-bench-exec.c: stdout to a file, stderr copied to a
/// file while the "attached" line is timestamped, CPU time and peak RSS taken when it exits.
/// </summary>
public sealed partial class TracerProcess : IDisposable
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;

    private readonly Process _wrapper;
    private readonly TaskCompletionSource<double?> _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<ExitInfo?> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The tracer's own pid (not the wrapper's).</summary>
    public int? Pid { get; private set; }

    private TracerProcess(Process wrapper) => _wrapper = wrapper;

    public static TracerProcess Start(string execTool, IReadOnlyList<string> argv, string stdoutPath, string stderrPath,
        string? marker, bool markerOnStdout)
    {
        var psi = new ProcessStartInfo(execTool)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-o");
        psi.ArgumentList.Add(stdoutPath);
        psi.ArgumentList.Add("-e");
        psi.ArgumentList.Add(stderrPath);
        if (marker is not null)
        {
            psi.ArgumentList.Add(markerOnStdout ? "-M" : "-m");
            psi.ArgumentList.Add(marker);
        }
        psi.ArgumentList.Add("--");
        foreach (string a in argv)
            psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var t = new TracerProcess(p);
        p.OutputDataReceived += (_, e) => t.OnLine(e.Data);
        p.Start();
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        return t;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _attached.TrySetResult(null);
            _exited.TrySetResult(null);
            return;
        }
        if (line.StartsWith("started ", StringComparison.Ordinal))
        {
            Pid = int.Parse(line.AsSpan(8), CultureInfo.InvariantCulture);
        }
        else if (line.StartsWith("attached ", StringComparison.Ordinal))
        {
            _attached.TrySetResult(double.Parse(line.AsSpan(9), CultureInfo.InvariantCulture));
        }
        else if (line.StartsWith("exit ", StringComparison.Ordinal))
        {
            using var doc = JsonDocument.Parse(line[5..]);
            JsonElement r = doc.RootElement;
            _attached.TrySetResult(null);
            _exited.TrySetResult(new ExitInfo(
                r.GetProperty("status").GetInt32(),
                r.GetProperty("utime_s").GetDouble(),
                r.GetProperty("stime_s").GetDouble(),
                r.GetProperty("cpu_s").GetDouble(),
                r.GetProperty("maxrss_kib").GetInt64(),
                r.GetProperty("wall_s").GetDouble()));
        }
    }

    /// <summary>Milliseconds from launch to the marker line; null when the tracer ended (or did
    /// not announce itself) within <paramref name="timeout"/>.</summary>
    public double? WaitAttached(TimeSpan timeout) =>
        _attached.Task.Wait(timeout) ? _attached.Task.Result : null;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Asks the tracer to stop (SIGTERM, forwarded by the wrapper) and waits for its
    /// figures; kills it when it does not stop within <paramref name="timeout"/>.</summary>
    public ExitInfo? Stop(TimeSpan timeout)
    {
        if (!_exited.Task.IsCompleted)
            kill(_wrapper.Id, SIGTERM);
        if (_exited.Task.Wait(timeout))
        {
            _wrapper.WaitForExit();
            return _exited.Task.Result;
        }
        if (Pid is int pid)
            kill(pid, SIGKILL);
        _exited.Task.Wait(TimeSpan.FromSeconds(10));
        _wrapper.WaitForExit(10_000);
        return null;
    }

    public void Dispose()
    {
        if (!_wrapper.HasExited && Pid is int pid)
            kill(pid, SIGKILL);
        _wrapper.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
