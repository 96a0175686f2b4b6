using System.Text.Json;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>One JSON line of `sysstream trace -o json`, with typed access to the documented keys.</summary>
public sealed class TraceEvent
{
    public TraceEvent(JsonElement json, int line)
    {
        Json = json;
        Line = line;
    }

    public JsonElement Json { get; }

    /// <summary>0-based position in the output.</summary>
    public int Line { get; }

    public string Func => Str("func") ?? "";
    public string? Phase => Str("phase");
    public bool IsEnter => Phase == "enter";
    public bool IsExit => Phase == "exit";
    public bool IsLost => Func == "lost";

    public long TsNs => Num("ts_ns") ?? -1;
    public string? Ts => Str("ts");
    public long Pid => Num("pid") ?? -1;
    public long Tid => Num("tid") ?? -1;
    public long Ppid => Num("ppid") ?? -1;
    public string? Comm => Str("comm");
    public string? Pcomm => Str("pcomm");
    public long Uid => Num("uid") ?? -1;
    public long Gid => Num("gid") ?? -1;
    public long? Cpu => Num("cpu");
    public long? Fd => Num("fd");
    public string? Family => Str("family");
    public string? Proto => Str("proto");
    public string? Laddr => Str("laddr");
    public long? Lport => Num("lport");
    public string? Raddr => Str("raddr");
    public long? Rport => Num("rport");
    public long? ReqBytes => Num("req_bytes");
    public long? Bytes => Num("bytes");
    public long? Ret => Num("ret");
    public string? Error => Str("error");
    public long? DurationNs => Num("duration_ns");
    public ulong? Cookie => UNum("cookie");
    public long? Count => Num("count");

    /// <summary>True when the key is present (null or not).</summary>
    public bool Has(string key) => Json.TryGetProperty(key, out _);

    public string? Str(string key) =>
        Json.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public long? Num(string key) =>
        Json.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : null;

    public ulong? UNum(string key) =>
        Json.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out ulong n) ? n : null;

    public bool Is(string func, string phase) => Func == func && Phase == phase;

    /// <summary>The local end of the socket is this address and port.</summary>
    public bool LocalIs(string addr, long port) => Laddr == addr && Lport == port;

    /// <summary>The remote end of the socket is this address and port.</summary>
    public bool RemoteIs(string addr, long port) => Raddr == addr && Rport == port;

    public override string ToString() => Json.GetRawText();
}
