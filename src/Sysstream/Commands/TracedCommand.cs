using System.Diagnostics;
using Sysstream.Bpf;
using Sysstream.Interop;

namespace Sysstream.Cli.Commands;

/// <summary>
/// Runs the command given after <c>--</c> so that it is traced from its first system call: a
/// shell stops itself, its pid enters the kernel's pid set (children followed), then it is
/// continued and execs the command under the same pid.
/// </summary>
internal static class TracedCommand
{
    public static Process Start(string[] command, TraceSession session) =>
        Start(command, pid => session.AddPid(pid, followChildren: true));

    /// <summary>The same for any set of sessions: <paramref name="track"/> adds the stopped
    /// shell's pid (children followed) to each before it continues.</summary>
    public static Process Start(string[] command, Action<int> track)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("kill -STOP $$; exec \"$@\"");
        psi.ArgumentList.Add("sysstream-run");
        foreach (string arg in command)
            psi.ArgumentList.Add(arg);
        Process child;
        try
        {
            child = Process.Start(psi) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new SysstreamException($"starting {command[0]}: {ex.Message}", ExitCodes.Unavailable);
        }
        WaitUntilStopped(child);
        track(child.Id);
        Libc.kill(child.Id, Libc.SIGCONT);
        return child;
    }

    private static void WaitUntilStopped(Process child)
    {
        string stat = $"/proc/{child.Id}/stat";
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 5000)
        {
            try
            {
                string text = File.ReadAllText(stat);
                // state follows the ")" that closes the command name
                int i = text.LastIndexOf(')');
                if (i > 0 && i + 2 < text.Length && text[i + 2] == 'T')
                    return;
            }
            catch (IOException)
            {
                break;
            }
            if (child.HasExited)
                break;
            Thread.Sleep(1);
        }
        throw new SysstreamException($"the traced command did not start (pid {child.Id})", ExitCodes.Software);
    }
}
