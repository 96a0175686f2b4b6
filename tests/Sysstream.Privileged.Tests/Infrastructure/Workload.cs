using System.Diagnostics;
using System.Text;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>What a finished process left behind.</summary>
public sealed record ProcessOutcome(int Pid, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"pid {Pid} exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the programs that make traffic (curl, wget, python), always with a timeout.</summary>
public static class Workload
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env)
                psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new XunitException($"could not start {file}");
        p.StandardInput.Close();
        return p;
    }

    /// <summary>Runs to the end; fails the test on timeout (after killing the process tree).</summary>
    public static async Task<ProcessOutcome> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IDictionary<string, string>? env = null)
    {
        using Process p = Start(file, args, env);
        return await WaitAsync(p, timeout ?? DefaultTimeout, $"{file} {string.Join(' ', args)}");
    }

    /// <summary>Runs to the end and requires exit code 0.</summary>
    public static async Task<ProcessOutcome> RunOkAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        ProcessOutcome o = await RunAsync(file, args, timeout);
        if (o.ExitCode != 0)
            throw new XunitException($"workload failed: {file} {string.Join(' ', args)}\n{o}");
        return o;
    }

    public static async Task<ProcessOutcome> WaitAsync(Process p, TimeSpan timeout, string what)
    {
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new XunitException($"timed out after {timeout.TotalSeconds:0}s: {what}");
        }
        return new ProcessOutcome(p.Id, p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Waits until a file exists and is not empty (scripts write it with a rename, so complete).</summary>
    public static async Task<string> WaitForFileAsync(string path, TimeSpan timeout, Process? owner = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (File.Exists(path))
            {
                string text = await File.ReadAllTextAsync(path);
                if (text.Length > 0)
                    return text;
            }
            if (owner is { HasExited: true })
            {
                var err = new StringBuilder();
                err.Append(await owner.StandardError.ReadToEndAsync());
                throw new XunitException($"process {owner.Id} exited ({owner.ExitCode}) before writing {path}: {err}");
            }
            await Task.Delay(10);
        }
        throw new XunitException($"timed out waiting for {path}");
    }
}
