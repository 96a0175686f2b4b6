using System.CommandLine;
using Sysstream.Aggregation;
using Sysstream.Bpf;
using Sysstream.Events;
using Sysstream.Proc;
using Sysstream.Sockets;
using Sysstream.Top.Netstat;

namespace Sysstream.Cli.Commands;

/// <summary><c>sysstream netstat</c>: every socket on the machine with the processes that hold it.</summary>
internal static class NetstatCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "Output format: table or json", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json");
        var listen = new Option<bool>("--listen", "-l") { Description = "Only listening sockets (TCP LISTEN, bound unconnected UDP, unix listeners)" };
        var proto = new Option<string[]>("--proto") { Description = "Only this protocol: tcp, udp or unix (repeatable)" };
        proto.AcceptOnlyFromAmong("tcp", "udp", "unix");
        var pid = new Option<int[]>("--pid", "-p") { Description = "Only sockets held by this process (repeatable)" };
        var port = new Option<int[]>("--port") { Description = "Only sockets with this local or remote port (repeatable)" };
        var watch = new Option<bool>("--watch", "-w") { Description = "Refresh every --delay until stopped; as root also count bytes and age per socket from then on" };
        var delay = Durations.CreateOption("--delay", "Seconds between refreshes with --watch (default 1s)");
        delay.Aliases.Add("-d");
        var noTraffic = new Option<bool>("--no-traffic") { Description = "With --watch: do not load the BPF programs that count bytes" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print libbpf's messages to stderr" };

        var cmd = new Command("netstat", "Every socket on the machine (TCP, UDP, unix; IPv4 and IPv6; every network namespace) with the "
            + "processes that hold it, descriptors, queues and state, like `ss -tunap`.");
        foreach (Option o in new Option[] { output, listen, proto, pid, port, watch, delay, noTraffic, verbose })
            cmd.Options.Add(o);
        cmd.Validators.Add(r =>
        {
            foreach (int p in r.GetValue(port) ?? [])
            {
                if (p is < 1 or > 65535)
                    r.AddError($"bad --port {p}: a port is 1-65535");
            }
            foreach (int p in r.GetValue(pid) ?? [])
            {
                if (p < 1)
                    r.AddError($"bad --pid {p}: a process id is a positive number");
            }
        });
        cmd.SetAction((parse, ct) =>
        {
            var options = new NetstatRunOptions
            {
                Json = parse.GetValue(output) == "json",
                Watch = parse.GetValue(watch),
                Delay = parse.GetValue(delay) ?? TimeSpan.FromSeconds(1),
                Filter = new NetstatFilter
                {
                    ListenOnly = parse.GetValue(listen),
                    Protos = (parse.GetValue(proto) ?? []).ToHashSet(),
                    Pids = (parse.GetValue(pid) ?? []).ToHashSet(),
                    Ports = (parse.GetValue(port) ?? []).ToHashSet(),
                },
            };
            return RunAsync(options, counting: options.Watch && !parse.GetValue(noTraffic), parse.GetValue(verbose));
        });
        return cmd;
    }

    private static async Task<int> RunAsync(NetstatRunOptions options, bool counting, bool verbose)
    {
        using var stop = new StopSignal();
        var processes = new ProcessTable();
        var inventory = new SocketInventory(processes);
        TopSession? session = null;
        if (counting)
        {
            try
            {
                session = TopSession.Start(new TopOptions { Verbose = verbose });
            }
            catch (SysstreamException ex)
            {
                // Sockets are still listed; only bytes and age need the kernel programs.
                Console.Error.WriteLine($"sysstream: not counting bytes per socket: {ex.Message}");
            }
        }
        try
        {
            TopSampler? sampler = session is null ? null : new TopSampler(session, TimeSpan.FromSeconds(60));
            if (session is not null)
                Console.Error.WriteLine($"sysstream: attached {session.Attached.Count} hooks; counting bytes per socket from now on");
            using Stream stdout = Console.OpenStandardOutput();
            await NetstatApp.RunAsync(inventory, processes.Users.User, sampler, new ProcFacts(processes), options, stdout,
                EventClock.FromSystem(), stop.Signalled);
        }
        catch (IOException)
        {
            // the reader of our output went away (EPIPE)
        }
        finally
        {
            session?.Dispose();
        }
        return ExitCodes.Ok;
    }
}
