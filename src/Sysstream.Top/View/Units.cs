using System.Globalization;

namespace Sysstream.Top.View;

/// <summary>Numbers as the views print them: short, in binary units, aligned by the caller.</summary>
public static class Units
{
    private static readonly string[] Suffixes = ["B", "K", "M", "G", "T", "P"];

    /// <summary>1023 -> "1023B", 1536 -> "1.5K", 10 MiB -> "10M"; three significant digits at most.</summary>
    public static string Bytes(double value)
    {
        if (value < 0 || double.IsNaN(value))
            value = 0;
        int i = 0;
        while (value >= 1024 && i < Suffixes.Length - 1)
        {
            value /= 1024;
            i++;
        }
        if (i == 0)
            return ((long)Math.Round(value)).ToString(CultureInfo.InvariantCulture) + "B";
        string digits = value >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
            : value >= 10 ? value.ToString("0.0", CultureInfo.InvariantCulture)
            : value.ToString("0.00", CultureInfo.InvariantCulture);
        return digits + Suffixes[i];
    }

    /// <summary>Same as <see cref="Bytes"/>, for bytes per second; "0" when nothing moved.</summary>
    public static string Rate(double bytesPerSecond) => bytesPerSecond <= 0 ? "0" : Bytes(bytesPerSecond);

    public static string Count(ulong n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>"850us", "12.3ms", "1.20s"; empty for 0 (no sample).</summary>
    public static string Micros(uint us) => us == 0 ? ""
        : us < 1000 ? us.ToString(CultureInfo.InvariantCulture) + "us"
        : us < 1_000_000 ? (us / 1000.0).ToString("0.0", CultureInfo.InvariantCulture) + "ms"
        : (us / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "s";

    /// <summary>"45s", "12m03s", "3h05m", "2d04h".</summary>
    public static string Age(double seconds)
    {
        if (seconds < 0 || double.IsNaN(seconds))
            seconds = 0;
        long s = (long)seconds;
        if (s < 60)
            return seconds < 10 ? seconds.ToString("0.0", CultureInfo.InvariantCulture) + "s" : s.ToString(CultureInfo.InvariantCulture) + "s";
        if (s < 3600)
            return $"{s / 60}m{s % 60:00}s";
        if (s < 86400)
            return $"{s / 3600}h{s / 60 % 60:00}m";
        return $"{s / 86400}d{s / 3600 % 24:00}h";
    }

    /// <summary>Fits text into a width: cut with "+" marking the cut, or padded.</summary>
    public static string Fit(string text, int width, bool right)
    {
        if (width <= 0)
            return "";
        if (text.Length > width)
            return width == 1 ? "+" : text[..(width - 1)] + "+";
        return right ? text.PadLeft(width) : text.PadRight(width);
    }
}
