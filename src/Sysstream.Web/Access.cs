using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Sysstream.Web;

/// <summary>
/// Who may talk to the server. With a token every request must carry it: an
/// <c>Authorization: Bearer TOKEN</c> header, the <c>sysstream_token</c> cookie, or
/// <c>?token=TOKEN</c> (which also sets the cookie, so a browser opened on that link keeps working);
/// anything else gets 401. Without a token (loopback only), requests must name the loopback host
/// in their Host header, so a web page on another site cannot reach the API through DNS rebinding.
/// </summary>
public sealed class Access
{
    public const string CookieName = "sysstream_token";

    private readonly byte[]? _token;
    private readonly HashSet<string> _hosts;

    public bool TokenRequired => _token is not null;

    public Access(string? token, IEnumerable<string> listenHosts)
    {
        _token = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes(token);
        _hosts = new HashSet<string>(["localhost", "127.0.0.1", "[::1]", "::1"], StringComparer.OrdinalIgnoreCase);
        foreach (string h in listenHosts)
            _hosts.Add(h);
    }

    /// <summary>A token for a non-loopback listener when none was given: 32 random bytes, URL-safe.</summary>
    public static string NewToken() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool IsLoopback(IPAddress a) => IPAddress.IsLoopback(a);

    /// <summary>Checks a request; false after writing the refusal.</summary>
    public bool Check(HttpContext ctx)
    {
        if (_token is null)
        {
            string host = ctx.Request.Host.Host;
            if (!_hosts.Contains(host) && !_hosts.Contains("[" + host + "]"))
            {
                ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                return false;
            }
            return true;
        }
        string? given = null;
        string auth = ctx.Request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            given = auth[7..].Trim();
        bool fromQuery = false;
        if (given is null && ctx.Request.Query.TryGetValue("token", out var q) && q.Count > 0)
        {
            given = q[0];
            fromQuery = true;
        }
        if (given is null && ctx.Request.Cookies.TryGetValue(CookieName, out string? cookie))
            given = cookie;
        if (given is null || !Matches(given))
        {
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.Headers.WWWAuthenticate = "Bearer realm=\"sysstream\"";
            return false;
        }
        if (fromQuery)
        {
            ctx.Response.Cookies.Append(CookieName, given, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Path = "/",
                Secure = ctx.Request.IsHttps,
            });
        }
        return true;
    }

    private bool Matches(string given)
    {
        byte[] g = Encoding.UTF8.GetBytes(given);
        return CryptographicOperations.FixedTimeEquals(g, _token);
    }
}
