using System.Diagnostics;
using System.Runtime.CompilerServices;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// A running `sysstream` process: stdout (JSON lines) and stderr are collected as they come, the
/// `sysstream: attached` line is awaited before any workload runs, and the run is stopped with
/// SIGTERM (SIGINT may be ignored in background jobs), always within a timeout.
/// </summary>
public sealed class TraceRun : IAsyncDisposable
{
    public const string AttachedPrefix = "sysstream: attached";

    public static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly ITestOutputHelper? _log;
    private readonly string _name;
    private readonly List<string> _stdout = new();
    private readonly List<string> _stderr = new();
    private readonly TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _readers;
    private TraceResult? _result;

    public int Pid { get; }

    /// <summary>When the process was started (Stopwatch timestamp).</summary>
    public long StartedTimestamp { get; private init; }

    /// <summary>When the attached line was read (Stopwatch timestamp), 0 before.</summary>
    public long AttachedTimestamp { get; private set; }

    /// <summary>When the process was seen to exit (Stopwatch timestamp), 0 before.</summary>
    public long ExitedTimestamp { get; private set; }

    private TraceRun(Process process, ITestOutputHelper? log, string name)
    {
        _process = process;
        _log = log;
        _name = name;
        Pid = process.Id;
        // Dedicated threads: blocking reads on pool threads would wait for thread injection on
        // a small machine and delay the attached line by a second or more.
        Task exited = Task.Factory.StartNew(() =>
        {
            process.WaitForExit();
            ExitedTimestamp = Stopwatch.GetTimestamp();
        }, TaskCreationOptions.LongRunning);
        _readers = Task.WhenAll(exited,
            Task.Factory.StartNew(() => Pump(process.StandardOutput, _stdout, stderr: false), TaskCreationOptions.LongRunning),
            Task.Factory.StartNew(() => Pump(process.StandardError, _stderr, stderr: true), TaskCreationOptions.LongRunning));
        _ = _readers.ContinueWith(_ => _attached.TrySetException(new XunitException(
            $"sysstream exited before attaching:\n{string.Join('\n', Snapshot(_stderr))}")), TaskScheduler.Default);
    }

    /// <summary>
    /// Starts `sysstream ARGS` (e.g. "trace", "-o", "json", ...). With <paramref name="waitForAttach"/>,
    /// returns once the attached line was printed.
    /// </summary>
    public static async Task<TraceRun> StartAsync(ITestOutputHelper? log, IEnumerable<string> args, bool waitForAttach = true,
        SysstreamExecutable? exe = null, IEnumerable<string>? runAs = null, IDictionary<string, string>? env = null,
        [CallerMemberName] string name = "")
    {
        exe ??= SysstreamExecutable.Default;
        var argv = exe.Arguments(args).ToList();
        string file = exe.FileName;
        if (runAs is not null)
        {
            // e.g. setpriv --reuid=... FILE ARGS
            var wrapper = runAs.ToList();
            argv.Insert(0, file);
            argv.InsertRange(0, wrapper.Skip(1));
            file = wrapper[0];
        }
        long started = Stopwatch.GetTimestamp();
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string a in argv)
            psi.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env)
                psi.Environment[k] = v;
        log?.WriteLine($"$ {file} {string.Join(' ', argv.Select(Quote))}");
        Process p = Process.Start(psi) ?? throw new XunitException($"could not start {file}");
        p.StandardInput.Close();
        var run = new TraceRun(p, log, name) { StartedTimestamp = started };
        if (waitForAttach)
            await run.WaitAttachedAsync();
        return run;
    }

    /// <summary>Waits for the attached line; fails if it does not come in time or sysstream exits first.</summary>
    public async Task WaitAttachedAsync()
    {
        Task done = await Task.WhenAny(_attached.Task, Task.Delay(AttachTimeout));
        if (done != _attached.Task)
        {
            KillNow();
            throw new XunitException($"no '{AttachedPrefix}' line within {AttachTimeout.TotalSeconds:0}s; stderr:\n{string.Join('\n', Snapshot(_stderr))}");
        }
        await _attached.Task;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Sends SIGTERM and collects the result.</summary>
    public async Task<TraceResult> StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
            Posix.Signal(Pid, Posix.SIGTERM);
        return await WaitForExitAsync(timeout ?? ExitTimeout);
    }

    /// <summary>Waits for sysstream to end on its own (--duration, command mode, errors).</summary>
    public async Task<TraceResult> WaitForExitAsync(TimeSpan? timeout = null)
    {
        if (_result is not null)
            return _result;
        TimeSpan t = timeout ?? ExitTimeout;
        using var cts = new CancellationTokenSource(t);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await _readers.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            KillNow();
            throw new XunitException($"sysstream did not exit within {t.TotalSeconds:0}s; stderr:\n{string.Join('\n', Snapshot(_stderr))}");
        }
        string? saved = Save();
        _result = new TraceResult(_process.ExitCode, _stdout, _stderr, saved);
        _log?.WriteLine($"sysstream exited {_result.ExitCode}; {_stdout.Count} stdout lines{(saved is null ? "" : $" in {saved}")}");
        foreach (string l in _stderr)
            _log?.WriteLine($"  stderr: {l}");
        return _result;
    }

    /// <summary>The stdout of every run goes to bin/.../traces/NAME.jsonl, for looking at a failure.</summary>
    private string? Save()
    {
        try
        {
            string dir = Path.Combine(AppContext.BaseDirectory, "traces");
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, $"{_name}.jsonl");
            File.WriteAllLines(path, _stdout);
            File.WriteAllLines(Path.ChangeExtension(path, ".stderr.txt"), _stderr);
            return path;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void Pump(StreamReader reader, List<string> lines, bool stderr)
    {
        while (reader.ReadLine() is { } line)
        {
            lock (lines)
                lines.Add(line);
            if (stderr && line.StartsWith(AttachedPrefix, StringComparison.Ordinal) && AttachedTimestamp == 0)
            {
                AttachedTimestamp = Stopwatch.GetTimestamp();
                _attached.TrySetResult();
            }
        }
    }

    /// <summary>Waits until a line of standard output, as printed so far, satisfies the predicate.</summary>
    public async Task<string?> WaitForOutputAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        int seen = 0;
        while (true)
        {
            List<string> lines = Snapshot(_stdout);
            for (; seen < lines.Count; seen++)
            {
                if (predicate(lines[seen]))
                    return lines[seen];
            }
            if (Stopwatch.GetTimestamp() > deadline || _process.HasExited)
                return null;
            await Task.Delay(10);
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
            return lines.ToList();
    }

    private void KillNow()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./=:@%+,".Contains(c)) ? a : $"'{a.Replace("'", "'\\''")}'";

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Posix.Signal(Pid, Posix.SIGTERM);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                KillNow();
            }
        }
        _process.Dispose();
    }
}
