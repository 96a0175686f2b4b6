namespace Sysstream.Web;

/// <summary>
/// The packets <c>serve --capture</c> keeps in memory, for /api/capture.pcapng and /api/info.
/// Implemented by the executable over the capture pipeline (views do not depend on each other).
/// </summary>
public interface ICaptureSource
{
    /// <summary>How far back a download can reach.</summary>
    TimeSpan Window { get; }

    /// <summary>What is held now, for /api/info.</summary>
    ApiCapture Describe();

    /// <summary>A whole pcapng file of the last <paramref name="span"/> (at most <see cref="Window"/>);
    /// null when the capture has not started yet.</summary>
    CaptureDownload? Cut(TimeSpan span);
}

/// <summary>One downloadable pcapng file and what names it.</summary>
public sealed record CaptureDownload
{
    public required byte[] Pcapng { get; init; }
    /// <summary>When it was cut (UTC).</summary>
    public DateTime CutAt { get; init; }
    public string Host { get; init; } = "";
    public int Packets { get; init; }
    /// <summary>The byte limit dropped blocks of this span.</summary>
    public bool Incomplete { get; init; }

    /// <summary>sysstream-HOST-20261128T041000Z.pcapng (the host name reduced to [A-Za-z0-9._-]).</summary>
    public string FileName
    {
        get
        {
            var host = new System.Text.StringBuilder();
            foreach (char c in Host)
                host.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_');
            string h = host.Length == 0 ? "host" : host.ToString();
            return $"sysstream-{h}-{CutAt.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture)}.pcapng";
        }
    }
}
