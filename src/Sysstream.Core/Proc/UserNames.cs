namespace Sysstream.Proc;

/// <summary>
/// uid/gid to names from /etc/passwd and /etc/group (no NSS: these tools run on servers where
/// the local files are the source; unknown ids are shown as numbers). Re-read when the files change,
/// which is checked at most once a second: names are asked for per new connection or packet owner.
/// </summary>
public sealed class UserNames
{
    private readonly string _passwd, _group;
    private Dictionary<uint, string> _users = new();
    private Dictionary<uint, string> _groups = new();
    private DateTime _passwdStamp, _groupStamp;
    private const long CheckEveryMs = 1000;
    // Environment.TickCount64 of the last check; the first call always checks.
    private long _passwdChecked = -CheckEveryMs, _groupChecked = -CheckEveryMs;
    private readonly object _lock = new();

    public UserNames(string root = "/")
    {
        _passwd = Path.Combine(root, "etc/passwd");
        _group = Path.Combine(root, "etc/group");
    }

    public string User(uint uid)
    {
        lock (_lock)
        {
            Refresh(_passwd, ref _passwdChecked, ref _passwdStamp, ref _users);
            return _users.TryGetValue(uid, out string? name) ? name : uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public string Group(uint gid)
    {
        lock (_lock)
        {
            Refresh(_group, ref _groupChecked, ref _groupStamp, ref _groups);
            return _groups.TryGetValue(gid, out string? name) ? name : gid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Parses passwd/group text: name:x:id:...; returns id to name (first name wins).</summary>
    public static Dictionary<uint, string> ParseIdFile(IEnumerable<string> lines)
    {
        var map = new Dictionary<uint, string>();
        foreach (string line in lines)
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            string[] f = line.Split(':');
            if (f.Length > 2 && uint.TryParse(f[2], out uint id))
                map.TryAdd(id, f[0]);
        }
        return map;
    }

    private static void Refresh(string path, ref long checkedMs, ref DateTime stamp, ref Dictionary<uint, string> map)
    {
        long nowMs = Environment.TickCount64;
        if (nowMs - checkedMs < CheckEveryMs)
            return;
        checkedMs = nowMs;
        try
        {
            DateTime now = File.GetLastWriteTimeUtc(path);
            if (now == stamp)
                return;
            map = ParseIdFile(File.ReadLines(path));
            stamp = now;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
