using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Filters;
using Sysstream.Output;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>sysstream trace -r FILE</c>: prints the system calls stored in a pcapng file written by
/// <c>sysstream capture</c>, through the same table and JSON writers as a live trace. Needs no
/// root. A truncated or corrupt file ends with one error line naming the offset (exit 65).
/// </summary>
internal static class TraceReplay
{
    public static int Run(string path, bool json, TraceFilter filter, bool noEnter, IReadOnlyList<Func> syscalls)
    {
        var keep = new RecordingFilter(filter, noEnter, syscalls);
        Stream input = Open(path);
        try
        {
            using Stream stdout = Console.OpenStandardOutput();
            IEventSink? sink = null;
            ReplayResult result;
            try
            {
                result = CaptureReplay.Replay(input, clock => sink = json ? new JsonEventWriter(stdout, clock) : new TableEventWriter(stdout, clock),
                    keep.IsEmpty ? null : keep);
            }
            catch (PcapngFormatException ex)
            {
                throw new SysstreamException($"reading {Shown(path)}: bad pcapng at offset {ex.Offset}: {ex.Message}", ExitCodes.DataError,
                    "the file is truncated or corrupt; events before that offset were printed");
            }
            catch (IOException ex)
            {
                throw new SysstreamException($"reading {Shown(path)}: {ex.Message}", ExitCodes.IoError);
            }
            finally
            {
                (sink as IDisposable)?.Dispose();
            }
            if (!result.HasSession && result.Syscalls == 0)
                Console.Error.WriteLine($"sysstream: {Shown(path)} holds no sysstream system calls ({result.Packets} packets): was it written by `sysstream capture`?");
            else
                Console.Error.WriteLine($"sysstream: {result.SyscallsShown} events, {result.LostSyscalls} lost (read from {Shown(path)}: "
                    + $"{result.Syscalls} system calls, {result.Packets} packets)");
            return ExitCodes.Ok;
        }
        finally
        {
            if (path != "-")
                input.Dispose();
        }
    }

    private static string Shown(string path) => path == "-" ? "standard input" : path;

    private static Stream Open(string path)
    {
        if (path == "-")
            return new BufferedStream(Console.OpenStandardInput(), 64 * 1024);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024);
        }
        catch (FileNotFoundException)
        {
            throw new SysstreamException($"reading {path}: no such file", ExitCodes.NoInput);
        }
        catch (DirectoryNotFoundException)
        {
            throw new SysstreamException($"reading {path}: no such file", ExitCodes.NoInput);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SysstreamException($"reading {path}: {ex.Message}", ExitCodes.NoInput);
        }
    }
}
