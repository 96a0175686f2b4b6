using System.CommandLine;
using Sysstream.Cli.Commands;
using Xunit;

namespace Sysstream.Tests.Cli;

/// <summary>Every command's bad input ends in one line and exit 64, without touching the kernel.</summary>
public class CommandLineTests
{
    private static RootCommand Root() => new("test") { TraceCommand.Create(), DoctorCommand.Create() };

    private static (int Code, string[] Lines) Run(params string[] args)
    {
        var err = new StringWriter();
        int code = CommandRunner.RunAsync(Root(), args, err).GetAwaiter().GetResult();
        return (code, err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("trace", "--bogus")]
    [InlineData("trace", "stray")]
    [InlineData("trace", "-o", "xml")]
    [InlineData("trace", "--duration", "soon")]
    [InlineData("trace", "--duration", "-1s")]
    [InlineData("trace", "--pid", "abc")]
    [InlineData("nosuchcommand")]
    [InlineData("trace", "-e", "connect,bogus")]
    public void Usage_errors_are_one_line_and_exit_64(params string[] args)
    {
        (int code, string[] lines) = Run(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("sysstream: ", lines[0]);
        Assert.All(lines.Skip(1), l => Assert.StartsWith("hint: ", l));
        Assert.True(lines.Length <= 2, string.Join("\n", lines));
    }

    [Fact]
    public void Filter_values_are_checked_before_anything_is_loaded()
    {
        (int code, string[] lines) = Run("trace", "--port", "70000");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("sysstream: bad --port 70000: a port is 1-65535", lines[0]);
    }

    [Fact]
    public void Everything_after_double_dash_is_the_command()
    {
        // What follows -- is never parsed as our options: the error is about --port, not --bogus.
        (int code, string[] lines) = Run("trace", "--port", "0", "--", "--bogus", "x");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("sysstream: bad --port 0: a port is 1-65535", lines[0]);
        Assert.Equal(["--bogus", "x"], CommandRunner.Tail);
    }

    [Fact]
    public void Syscall_names_become_the_kernel_mask_members()
    {
        Assert.Equal([Sysstream.Events.Func.Connect, Sysstream.Events.Func.Accept4, Sysstream.Events.Func.Close],
            SyscallNames.ToFuncs(["connect", "accept4", "close", "connect"]));
        Assert.Equal(21, SyscallNames.Known.Count);
    }

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("1h", 3_600_000)]
    public void Durations_parse(string text, double ms)
    {
        Assert.True(Sysstream.Cli.Commands.Durations.TryParse(text, out TimeSpan t));
        Assert.Equal(ms, t.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0s")]
    [InlineData("-1s")]
    [InlineData("ten")]
    public void Bad_durations(string text) => Assert.False(Sysstream.Cli.Commands.Durations.TryParse(text, out _));
}
