using System.Runtime.InteropServices;

namespace Sysstream.Cli.Commands;

/// <summary>
/// Turns SIGINT, SIGTERM and SIGHUP into a task, so a command can stop cleanly: detach, drain,
/// print the summary. (A job started in the background by a script has SIGINT ignored; SIGTERM
/// must be just as clean.)
/// </summary>
internal sealed class StopSignal : IDisposable
{
    private readonly TaskCompletionSource<PosixSignal> _signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<PosixSignalRegistration> _registrations = new();

    public Task<PosixSignal> Signalled => _signalled.Task;

    public StopSignal()
    {
        foreach (PosixSignal s in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
        {
            _registrations.Add(PosixSignalRegistration.Create(s, ctx =>
            {
                ctx.Cancel = true;
                _signalled.TrySetResult(ctx.Signal);
            }));
        }
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations)
            r.Dispose();
    }
}
