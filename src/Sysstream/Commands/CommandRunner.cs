using System.CommandLine;
using System.CommandLine.Help;

namespace Sysstream.Cli.Commands;

/// <summary>
/// Parses, reports bad input as one line (exit 64), runs the action, and turns anticipated
/// failures (<see cref="SysstreamException"/>) into <c>sysstream: ...</c> plus a hint, never a stack trace.
/// </summary>
public static class CommandRunner
{
    /// <summary>What followed <c>--</c> on the command line: a command for trace/capture to run.</summary>
    public static string[] Tail { get; private set; } = [];

    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter? stderr = null)
    {
        stderr ??= Console.Error;
        // Everything after "--" is a command to run, never options or arguments of ours.
        int dashes = Array.IndexOf(args, "--");
        Tail = dashes < 0 ? [] : args[(dashes + 1)..];
        ParseResult parse = root.Parse(dashes < 0 ? args : args[..dashes]);
        if (parse.Errors.Count > 0)
        {
            string command = parse.CommandResult.Command == root ? "sysstream" : $"sysstream {parse.CommandResult.Command.Name}";
            stderr.WriteLine($"sysstream: {OneLine(parse.Errors[0].Message)}");
            stderr.WriteLine($"hint: see '{command} --help'");
            return ExitCodes.Usage;
        }
        try
        {
            var config = new InvocationConfiguration
            {
                // Our commands handle SIGINT/SIGTERM themselves, to drain before exiting.
                ProcessTerminationTimeout = null,
                EnableDefaultExceptionHandler = false,
            };
            return await parse.InvokeAsync(config);
        }
        catch (SysstreamException ex)
        {
            return Report(ex, stderr);
        }
        catch (Exception ex) when (ex.InnerException is SysstreamException inner)
        {
            return Report(inner, stderr);
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"sysstream: internal error: {ex.GetType().Name}: {ex.Message}");
            stderr.WriteLine("hint: this is a bug; rerun with SYSSTREAM_DEBUG=1 for the stack trace");
            if (Environment.GetEnvironmentVariable("SYSSTREAM_DEBUG") == "1")
                stderr.WriteLine(ex);
            return ExitCodes.Software;
        }
    }

    /// <summary>The parser's messages may span lines (lists of allowed values): one line, always.</summary>
    internal static string OneLine(string message) =>
        string.Join(" ", message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    public static int Report(SysstreamException ex, TextWriter stderr)
    {
        stderr.WriteLine($"sysstream: {ex.Message}");
        if (ex.Hint is not null)
            stderr.WriteLine($"hint: {ex.Hint}");
        return ex.ExitCode;
    }
}
