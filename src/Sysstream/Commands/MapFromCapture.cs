using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Graph;
using Sysstream.Proc;

namespace Sysstream.Cli.Commands;

/// <summary>
/// <c>sysstream map -r FILE</c>: the map of a recording. The system calls that
/// <c>sysstream capture</c> stored are added up per socket and per process (as top's maps do live)
/// and go through the same flow builder; request-to-first-response times are known here, since
/// every send and receive is in the file. No root needed: nothing is loaded into the kernel.
/// </summary>
internal static class MapFromCapture
{
    public static int Run(FileInfo file, MapOptions options, string format)
    {
        if (!file.Exists)
            throw new SysstreamException($"reading {file.FullName}: no such file", ExitCodes.NoInput);
        var totals = new EventTotals();
        EventClock? clock = null;
        ReplayResult result;
        try
        {
            using FileStream input = file.OpenRead();
            result = CaptureReplay.Replay(input, c => { clock = c; return totals; });
        }
        catch (PcapngFormatException ex)
        {
            throw new SysstreamException($"reading {file.FullName}: {ex.Message}", ExitCodes.DataError);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SysstreamException($"reading {file.FullName}: {ex.Message}", ExitCodes.NoInput);
        }
        if (result.Syscalls == 0)
            Console.Error.WriteLine($"sysstream: {file.Name} holds no system calls ({result.Packets} packets): the map needs the system calls a capture records");
        // The recorded processes may be gone or others now: only the kernel's own facts are used.
        var builder = new FlowBuilder(new RecordedProcesses(new ProcessTable().Users));
        FlowSet flows = builder.Update(totals.Snapshot(), totals.Events(), [], LocalAddresses.FromSystem(),
            clock?.RealtimeOffsetNs ?? 0, 0, totals.FirstResponseUs());
        MapGraph graph = GraphProjector.Project(flows, options.GroupBy);
        using Stream stdout = StandardOutput.Open();
        MapCommand.Write(stdout, graph, format);
        return ExitCodes.Ok;
    }

    /// <summary>Processes of a recording: what the kernel said (comm, uid), never today's /proc.</summary>
    private sealed class RecordedProcesses(UserNames users) : IProcessDirectory
    {
        public ProcessFact Describe(int pid, ulong startNs, string comm, uint uid) =>
            new() { Pid = pid, StartNs = startNs, Comm = comm, Uid = uid, User = users.User(uid) };

        public string UserName(uint uid) => users.User(uid);
    }
}
