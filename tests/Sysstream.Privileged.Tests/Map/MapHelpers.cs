using System.Text.Json;
using Sysstream.Privileged.Tests.Infrastructure;
using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Map;

/// <summary>Reading the map's JSON (the schema documented in the README) in tests.</summary>
internal static class MapJson
{
    public static JsonElement Parse(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>The last JSON document printed by a map run.</summary>
    public static JsonElement Last(TraceResult r)
    {
        string? line = r.StdoutLines.LastOrDefault(l => l.StartsWith('{'));
        if (line is null)
            throw new XunitException($"map printed no JSON (exit {r.ExitCode}):\n{string.Join('\n', r.StderrLines)}");
        return Parse(line);
    }

    public static IEnumerable<JsonElement> Nodes(this JsonElement g) => g.GetProperty("nodes").EnumerateArray();

    public static IEnumerable<JsonElement> Edges(this JsonElement g) => g.GetProperty("edges").EnumerateArray();

    public static JsonElement NodeWithPid(this JsonElement g, int pid) =>
        g.Nodes().FirstOrDefault(n => n.GetProperty("pids").EnumerateArray().Any(p => p.GetInt32() == pid)) is { ValueKind: JsonValueKind.Object } n
            ? n : throw new XunitException($"no node holds pid {pid}:\n{Describe(g)}");

    public static string Str(this JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    public static long Long(this JsonElement e, string key) => e.GetProperty(key).GetInt64();

    public static string Describe(JsonElement g)
    {
        var lines = new List<string>();
        foreach (JsonElement n in g.Nodes())
            lines.Add($"node {n.Str("id")} [{n.Str("label")}] pids {string.Join(',', n.GetProperty("pids").EnumerateArray())}");
        foreach (JsonElement e in g.Edges())
            lines.Add($"edge {e.Str("id")} opened {e.Long("opened")} failed {e.Long("failed")} to_server {e.Long("bytes_to_server")} to_client {e.Long("bytes_to_client")}");
        return string.Join('\n', lines);
    }
}

/// <summary>Small two-process python workloads with sizes the test knows exactly.</summary>
internal static class MapWorkloads
{
    /// <summary>Stream server: listens on 127.0.0.1 (where "inet") or on a unix path (where a path),
    /// reports its port (0 for unix), accepts one client, reads exactly N bytes, sends M, closes.</summary>
    public const string Server = """
        out, where, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        if where == "inet":
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", 0))
        else:
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(where)
        srv.listen(4)
        report(out, port=srv.getsockname()[1] if where == "inet" else 0)
        con, _ = srv.accept()
        got = 0
        while got < n:
            b = con.recv(n - got)
            if not b:
                break
            got += len(b)
        con.sendall(b"r" * m)
        con.shutdown(socket.SHUT_WR)
        con.recv(1)
        con.close()
        time.sleep(0.3)
        """;

    /// <summary>Stream client: connects to the server (where: its 127.0.0.1 port, or its unix path),
    /// sends N bytes, reads M, closes.</summary>
    public const string Client = """
        out, where, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        if where.isdigit():
            cli = socket.create_connection(("127.0.0.1", int(where)))
        else:
            cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            cli.connect(where)
        cli.sendall(b"q" * n)
        got = 0
        while got < m:
            b = cli.recv(m - got)
            if not b:
                break
            got += len(b)
        cli.close()
        report(out, received=got)
        """;

    /// <summary>UDP server: binds (family 4 or 6) on loopback, reports its port, then for each answer
    /// size receives one datagram with recvfrom and answers its sender with sendto; unconnected.</summary>
    public const string UdpServer = """
        out, fam, answers = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
        af, host = (socket.AF_INET6, "::1") if fam == "6" else (socket.AF_INET, "127.0.0.1")
        s = socket.socket(af, socket.SOCK_DGRAM)
        s.bind((host, 0))
        report(out, port=s.getsockname()[1])
        got = []
        for size in answers:
            data, peer = s.recvfrom(65535)
            got.append(len(data))
            assert s.sendto(b"r" * size, peer) == size
        s.close()
        report(out + ".done", received=got)
        time.sleep(0.3)
        """;

    /// <summary>UDP client: an unconnected socket that sends each request size with sendto and reads
    /// each answer with recvfrom before the next.</summary>
    public const string UdpClient = """
        out, fam, port, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(x) for x in sys.argv[4].split(",")]
        af, host = (socket.AF_INET6, "::1") if fam == "6" else (socket.AF_INET, "127.0.0.1")
        s = socket.socket(af, socket.SOCK_DGRAM)
        s.settimeout(10)
        got = []
        for size in sizes:
            assert s.sendto(b"q" * size, (host, port)) == size
            data, peer = s.recvfrom(65535)
            got.append(len(data))
        s.close()
        report(out, received=got)
        """;

    /// <summary>Connects to a port nobody listens on; reports the errno name.</summary>
    public const string Refused = """
        out, port = sys.argv[1], int(sys.argv[2])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        err = s.connect_ex(("127.0.0.1", port))
        s.close()
        import errno
        report(out, error=errno.errorcode.get(err, str(err)))
        """;
}
