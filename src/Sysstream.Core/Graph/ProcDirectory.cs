using System.Collections.Concurrent;
using System.Threading.Channels;
using Sysstream.Aggregation;
using Sysstream.Proc;

namespace Sysstream.Graph;

/// <summary>
/// <see cref="IProcessDirectory"/> from /proc through <see cref="ProcessTable"/>. Short-lived
/// clients (a curl that lives 20 ms) are gone before the map's timer asks, so pids seen in
/// connect/accept events are read right away by a background reader (<see cref="Prefetch"/>):
/// their executable is then known when the map is built.
/// </summary>
public sealed class ProcDirectory : IProcessDirectory, IDisposable
{
    private readonly ProcessTable _table;
    private readonly ConcurrentDictionary<int, ProcessInfo> _early = new();
    private readonly Channel<int> _pending = Channel.CreateBounded<int>(new BoundedChannelOptions(4096)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly Thread _reader;
    private readonly CancellationTokenSource _stop = new();

    public ProcDirectory(ProcessTable table)
    {
        _table = table;
        _reader = new Thread(ReadPending) { Name = "sysstream-procfacts", IsBackground = true };
        _reader.Start();
    }

    /// <summary>Asks for a process's facts to be read now, off the caller's thread; never blocks.</summary>
    public void Prefetch(int pid)
    {
        if (pid > 0)
            _pending.Writer.TryWrite(pid);
    }

    private void ReadPending()
    {
        try
        {
            while (_pending.Reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
            {
                while (_pending.Reader.TryRead(out int pid))
                {
                    ProcessInfo? info = _table.Get(pid);
                    if (info is not null)
                        _early[pid] = info;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public string UserName(uint uid) => _table.Users.User(uid);

    public ProcessFact Describe(int pid, ulong startNs, string comm, uint uid)
    {
        ProcessInfo? info = _table.Get(pid);
        if (info is not null && startNs != 0 && !ProcFacts.SameStart(info.StartTicks, startNs))
            info = null; // the pid belongs to another process now
        if (info is null && _early.TryGetValue(pid, out ProcessInfo? early)
            && (startNs == 0 || ProcFacts.SameStart(early.StartTicks, startNs)))
            info = early;
        if (info is null)
        {
            return new ProcessFact
            {
                Pid = pid,
                StartNs = startNs,
                Comm = comm,
                Uid = uid,
                User = _table.Users.User(uid),
            };
        }
        return new ProcessFact
        {
            Pid = pid,
            StartNs = startNs,
            // The kernel's comm is the name at the time of the traffic; /proc's is the current one.
            Comm = comm.Length > 0 ? comm : info.Comm,
            Exe = info.Exe.EndsWith(" (deleted)", StringComparison.Ordinal) ? info.Exe[..^10] : info.Exe,
            Uid = info.Uid,
            User = info.User,
            Cgroup = info.Cgroup,
            CommandLine = info.CommandLine,
        };
    }

    public void Dispose()
    {
        _stop.Cancel();
        _pending.Writer.TryComplete();
        _reader.Join(TimeSpan.FromSeconds(1));
        _stop.Dispose();
    }
}
