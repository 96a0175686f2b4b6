using System.Text.Json;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// Small python3 workloads. Each script writes what it did (pids, ports, fds, counts) as JSON to
/// the file named by its first argument, with a rename so a reader never sees half of it.
/// </summary>
public static class Python
{
    /// <summary>Helpers prepended to every script.</summary>
    private const string Prelude = """
        import json, os, socket, sys, time

        def report(path, **facts):
            facts["pid"] = os.getpid()
            with open(path + ".tmp", "w") as f:
                json.dump(facts, f)
            os.rename(path + ".tmp", path)

        def wait_for(path, seconds=30):
            deadline = time.monotonic() + seconds
            while not os.path.exists(path):
                if time.monotonic() > deadline:
                    sys.exit("timed out waiting for " + path)
                time.sleep(0.005)

        def tcp_pair(port=0):
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", port))
            srv.listen(4)
            cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            cli.connect(srv.getsockname())
            con, _ = srv.accept()
            return srv, cli, con

        """;

    /// <summary>
    /// Ping-pong over one loopback TCP connection. Arguments: report, rounds, request size,
    /// response size, optionally the server port. Per round one send and one MSG_WAITALL recv on
    /// each end, so every round is exactly 4 calls (8 events); each send must go out whole.
    /// </summary>
    public const string PingPong = """
        out, rounds, qsize, rsize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        srv, cli, con = tcp_pair(int(sys.argv[5]) if len(sys.argv) > 5 else 0)
        q, r = b"q" * qsize, b"r" * rsize
        for i in range(rounds):
            assert cli.send(q) == qsize
            assert len(con.recv(qsize, socket.MSG_WAITALL)) == qsize
            assert con.send(r) == rsize
            assert len(cli.recv(rsize, socket.MSG_WAITALL)) == rsize
        report(out, client_fd=cli.fileno(), conn_fd=con.fileno(), rounds=rounds,
               server_port=srv.getsockname()[1], client_port=cli.getsockname()[1])
        """;

    /// <summary>The argument list that runs <paramref name="script"/> with its arguments.</summary>
    public static string[] Command(string script, params string[] args) =>
        [Tools.Python, "-c", Prelude + script, .. args];

    /// <summary>Reads the report of a script.</summary>
    public static JsonElement ReadReport(string path)
    {
        if (!File.Exists(path))
            throw new XunitException($"the workload wrote no report ({path})");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    public static int Int(this JsonElement report, string key) => report.GetProperty(key).GetInt32();
}
