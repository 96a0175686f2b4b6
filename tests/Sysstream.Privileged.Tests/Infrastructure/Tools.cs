using Xunit;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// The real programs the tests drive. A missing one skips the test with the package to install
/// (`.ci/run` installs them all on a fresh machine).
/// </summary>
public static class Tools
{
    public static string Nginx => Require("nginx", "/usr/sbin/nginx");
    public static string Wget => Require("wget", "/usr/bin/wget");
    public static string Curl => Require("curl", "/usr/bin/curl");
    public static string Bpftool => Require("bpftool", "/usr/sbin/bpftool");
    public static string Setpriv => Require("setpriv", "/usr/bin/setpriv");
    public static string Sh => Require("sh", "/bin/sh");

    /// <summary>The system's python3 (not a per-user shim: its comm is "python3" and any user may run it).</summary>
    public static string Python => Require("python3", "/usr/bin/python3");

    public static string Require(string name, string preferred)
    {
        string? path = Find(name, preferred);
        Skip.If(path is null, $"{name} is not installed (apt-get install {Package(name)})");
        return path!;
    }

    public static string? Find(string name, string preferred)
    {
        if (File.Exists(preferred))
            return preferred;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    private static string Package(string name) => name switch
    {
        "python3" => "python3",
        "setpriv" => "util-linux",
        "sh" => "dash",
        _ => name,
    };
}
