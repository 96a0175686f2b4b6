using System.CommandLine;

namespace Sysstream.Cli.Commands;

/// <summary><c>sysstream doctor</c>: what this kernel offers and which path trace uses.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var cmd = new Command("doctor", "Check the kernel: BTF, lockdown, hook types, tracefs, capabilities");
        cmd.SetAction((parse, ct) => Task.FromResult(0));
        return cmd;
    }
}
