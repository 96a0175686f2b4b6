using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sysstream.Events;
using Sysstream.Proc;

namespace Sysstream.Capture;

/// <summary>Which end of a packet a process context describes.</summary>
public enum PacketSide : byte
{
    /// <summary>The socket that sent it.</summary>
    Out = 0,
    /// <summary>The socket it was delivered to.</summary>
    In = 1,
}

/// <summary>How the process behind one end of a packet was found.</summary>
public enum OwnerSource : byte
{
    /// <summary>The socket's last user in process context (ss_owners, by socket cookie).</summary>
    Socket = 0,
    /// <summary>No full socket (TIME_WAIT, a kernel control socket answering for it): the last
    /// user of the socket with the same addresses and ports.</summary>
    Connection = 1,
    /// <summary>No process: nobody used the socket in process context while sysstream ran.</summary>
    None = 2,
}

/// <summary>The texts that go into a packet block for one end of the packet.</summary>
public sealed class ContextText(byte[] comment, byte[] json)
{
    /// <summary>For opt_comment: <c>sysstream: dir=out pid=.. tid=.. comm=.. ... cmd="..."</c>.</summary>
    public byte[] Comment { get; } = comment;
    /// <summary>For the custom option: the same as one JSON object.</summary>
    public byte[] Json { get; } = json;
}

/// <summary>
/// Turns the kernel's facts about a socket's owner into the context written with a packet:
/// adds what /proc knows (command line, user and group names, cgroup path), read once per
/// process, as early as possible (the first time a record names it: short-lived processes are
/// often gone by the time their packets are written). The texts are cached per owner and
/// socket, so a packet costs a dictionary lookup, not formatting.
/// </summary>
public sealed class ProcessContexts
{
    /// <summary>Clock ticks per second of /proc/PID/stat's start time (USER_HZ: 100 on Linux).</summary>
    private const ulong NsPerTick = 10_000_000;
    private const int MaxCached = 100_000;
    /// <summary>Texts are per socket end (~1 KB each with a long command line): under connection
    /// churn every new connection adds two, so they are held for fewer, recently active sockets.</summary>
    private const int MaxTexts = 16_384;

    private readonly ProcessTable _procs;
    private readonly Dictionary<(int Pid, ulong StartNs), Facts> _facts = new();
    private readonly Dictionary<Key, ContextText> _texts = new();

    // In front of the dictionaries, for the packet path: the last texts and facts looked up,
    // direct-mapped (a compare instead of hashing a dozen fields; a busy capture asks for the
    // same few sockets' owners over and over).
    private const int RecentSlots = 256;
    private readonly (Key Key, ContextText? Text)[] _recentTexts = new (Key, ContextText?)[RecentSlots];
    private readonly (int Pid, ulong StartNs, Facts? Facts)[] _recentFacts = new (int, ulong, Facts?)[RecentSlots];

    /// <summary>What is known of a process beyond the kernel's per-socket facts.</summary>
    public sealed class Facts
    {
        public string CommandLine { get; set; } = "";
        public string Cgroup { get; set; } = "";
        /// <summary>The kernel's copy of the arguments was cut at its bound.</summary>
        public bool CommandLineCut { get; set; }
        public bool FromKernel { get; set; }
        public bool ProcRead { get; set; }
    }

    public ProcessContexts(ProcessTable procs) => _procs = procs;

    public UserNames Users => _procs.Users;

    /// <summary>The kernel's description of a process (arguments, cgroup path), read while it ran.</summary>
    public void Describe(in ProcEvent p)
    {
        if (_facts.Count >= MaxCached)
            _facts.Clear();
        _recentFacts[(int)(p.Pid % RecentSlots)] = default;
        int len = Math.Min(p.CmdlineLen, (ushort)ProcEvent.CmdlineLength);
        _facts[((int)p.Pid, p.StartNs)] = new Facts
        {
            CommandLine = ProcessTable.ParseCmdline(p.CmdlineSpan[..len].ToArray()),
            CommandLineCut = len >= ProcEvent.CmdlineLength,
            Cgroup = p.CgroupPath(),
            FromKernel = true,
        };
    }

    /// <summary>What is known of the owner's process; reads /proc now when the kernel did not
    /// describe it, or cut its arguments (call when its record arrives, while it likely runs).</summary>
    public Facts Observe(in SockOwner owner)
    {
        ref (int Pid, ulong StartNs, Facts? Facts) recent = ref _recentFacts[(int)(owner.Pid % RecentSlots)];
        if (recent.Facts is not null && recent.Pid == (int)owner.Pid && recent.StartNs == owner.StartNs)
            return recent.Facts;
        var key = ((int)owner.Pid, owner.StartNs);
        if (_facts.TryGetValue(key, out Facts? facts) && (facts.ProcRead || (facts.FromKernel && !facts.CommandLineCut)))
        {
            recent = (key.Item1, key.Item2, facts);
            return facts;
        }
        if (_facts.Count >= MaxCached)
            _facts.Clear();
        facts ??= new Facts();
        facts.ProcRead = true;
        _facts[key] = facts;
        ProcessInfo? info = _procs.Read((int)owner.Pid);
        // A pid reused since the kernel saw it is another process: its /proc facts do not apply.
        if (info is null || (owner.StartNs != 0 && Diff(info.StartTicks, owner.StartNs / NsPerTick) > 1))
            return facts;
        if (info.CommandLine.Length > facts.CommandLine.Length)
            facts.CommandLine = info.CommandLine;
        if (facts.Cgroup.Length == 0)
            facts.Cgroup = info.Cgroup;
        return facts;
    }

    /// <summary>The texts for one end of a packet.</summary>
    public ContextText Get(PacketSide side, ulong cookie, OwnerSource source, in SockOwner owner)
    {
        if (source == OwnerSource.None)
            return NoOwner(side, cookie);
        var key = new Key(side, source, cookie, owner);
        ref (Key Key, ContextText? Text) recent = ref _recentTexts[(int)((cookie * 2 + (ulong)side) % RecentSlots)];
        if (recent.Text is not null && recent.Key.Equals(key))
            return recent.Text;
        if (!_texts.TryGetValue(key, out ContextText? text))
        {
            if (_texts.Count >= MaxTexts)
                _texts.Clear();
            text = Format(side, cookie, source, owner, Observe(owner));
            _texts[key] = text;
        }
        recent = (key, text);
        return text;
    }

    private ContextText NoOwner(PacketSide side, ulong cookie)
    {
        var key = new Key(side, OwnerSource.None, cookie, default);
        if (_texts.TryGetValue(key, out ContextText? text))
            return text;
        if (_texts.Count >= MaxTexts)
            _texts.Clear();
        text = Format(side, cookie, OwnerSource.None, default, null);
        _texts[key] = text;
        return text;
    }

    /// <summary>Formats the comment and JSON of one end (also used by tests).</summary>
    public ContextText Format(PacketSide side, ulong cookie, OwnerSource source, in SockOwner owner, Facts? info)
    {
        string dir = side == PacketSide.Out ? "out" : "in";
        var c = new StringBuilder(256);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var j = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            j.WriteStartObject();
            c.Append("sysstream: ");
            Pair(c, "dir", dir);
            j.WriteString("dir", dir);
            if (source == OwnerSource.None)
            {
                Pair(c, "owner", "none");
                j.WriteString("owner", "none");
            }
            else
            {
                string comm = Encoding.UTF8.GetString(owner.CommSpan);
                string pcomm = Encoding.UTF8.GetString(owner.PcommSpan);
                string user = Users.User(owner.Uid), group = Users.Group(owner.Gid);
                string cgroup = info?.Cgroup ?? "";
                string? container = ContainerId(cgroup);
                Num(c, j, "pid", owner.Pid);
                Num(c, j, "tid", owner.Tid);
                Str(c, j, "comm", comm);
                Num(c, j, "ppid", owner.Ppid);
                Str(c, j, "pcomm", pcomm);
                Num(c, j, "uid", owner.Uid);
                Str(c, j, "user", user);
                Num(c, j, "gid", owner.Gid);
                Str(c, j, "group", group);
                if (cgroup.Length > 0)
                    Str(c, j, "cgroup", cgroup);
                j.WriteNumber("cgroup_id", owner.CgroupId);
                if (container is not null)
                    Str(c, j, "container", container);
                if (owner.Fd >= 0)
                {
                    Pair(c, "fd", owner.Fd.ToString(CultureInfo.InvariantCulture));
                    j.WriteNumber("fd", owner.Fd);
                }
                if (owner.FuncKind != Func.None)
                    Str(c, j, "syscall", Encoding.ASCII.GetString(Names.FuncName(owner.FuncKind)));
                j.WriteNumber("netns", owner.Netns);
                if (source == OwnerSource.Connection)
                {
                    Pair(c, "owner", "connection");
                    j.WriteString("owner", "connection");
                }
            }
            Pair(c, "cookie", cookie.ToString(CultureInfo.InvariantCulture));
            j.WriteNumber("cookie", cookie);
            if (info is not null && info.CommandLine.Length > 0)
                Str(c, j, "cmd", info.CommandLine);
            j.WriteEndObject();
        }
        if (c[^1] == ' ')
            c.Length--;
        return new ContextText(Encoding.UTF8.GetBytes(c.ToString()), buffer.WrittenSpan.ToArray());
    }

    private static void Num(StringBuilder c, Utf8JsonWriter j, string key, uint value)
    {
        Pair(c, key, value.ToString(CultureInfo.InvariantCulture));
        j.WriteNumber(key, value);
    }

    private static void Str(StringBuilder c, Utf8JsonWriter j, string key, string value)
    {
        Pair(c, key, value);
        j.WriteString(key, value);
    }

    /// <summary>Appends <c>key=value </c>, quoting the value when it is empty or holds a space,
    /// a quote, a backslash or a control character (escaped as \" \\ \n \t \xHH).</summary>
    public static void Pair(StringBuilder sb, string key, string value)
    {
        sb.Append(key).Append('=');
        bool quote = value.Length == 0;
        foreach (char ch in value)
        {
            if (ch <= ' ' || ch == '"' || ch == '\\' || ch == '\x7f')
            {
                quote = true;
                break;
            }
        }
        if (!quote)
        {
            sb.Append(value).Append(' ');
            return;
        }
        sb.Append('"');
        foreach (char ch in value)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (ch < ' ' || ch == '\x7f')
                        sb.Append("\\x").Append(((int)ch).ToString("x2", CultureInfo.InvariantCulture));
                    else
                        sb.Append(ch);
                    break;
            }
        }
        sb.Append("\" ");
    }

    /// <summary>A container's id (12 hex digits) from a cgroup path that names one
    /// (docker-ID.scope, /docker/ID, cri-containerd-ID.scope, libpod-ID.scope ...); null otherwise.</summary>
    public static string? ContainerId(string cgroup)
    {
        foreach (string part in cgroup.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = part.EndsWith(".scope", StringComparison.Ordinal) ? part[..^6] : part;
            int dash = p.LastIndexOf('-');
            string id = dash >= 0 ? p[(dash + 1)..] : p;
            if (id.Length == 64 && id.All(char.IsAsciiHexDigitLower))
                return id[..12];
        }
        return null;
    }

    private static ulong Diff(ulong a, ulong b) => a > b ? a - b : b - a;

    /// <summary>What makes two contexts print the same.</summary>
    private readonly record struct Key(PacketSide Side, OwnerSource Source, ulong Cookie, uint Pid, uint Tid, int Fd,
        byte Func, ulong StartNs, uint Uid, uint Gid, ulong Comm0, ulong Comm1)
    {
        public Key(PacketSide side, OwnerSource source, ulong cookie, in SockOwner o)
            : this(side, source, cookie, o.Pid, o.Tid, o.Fd, o.Func, o.StartNs, o.Uid, o.Gid, 0, 0)
        {
            Span<byte> comm = stackalloc byte[16];
            o.CommSpan.CopyTo(comm);
            Comm0 = MemoryMarshal.Read<ulong>(comm);
            Comm1 = MemoryMarshal.Read<ulong>(comm[8..]);
        }
    }
}
