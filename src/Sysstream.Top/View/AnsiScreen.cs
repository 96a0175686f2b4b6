using System.Text;

namespace Sysstream.Top.View;

/// <summary>
/// The terminal: the alternate screen, the cursor hidden, lines redrawn only where they changed.
/// Disposing restores the terminal (main screen, cursor, colours); the caller disposes it on every
/// exit path, SIGTERM included.
/// </summary>
public sealed class AnsiScreen : IDisposable
{
    private const string Esc = "\u001b[";
    private readonly Stream _out;
    private string[] _drawn = [];
    private bool _disposed;

    public AnsiScreen(Stream output)
    {
        _out = output;
        Write(Esc + "?1049h" + Esc + "?25l" + Esc + "H" + Esc + "2J");
    }

    /// <summary>Forget what is on the screen (after a resize): the next draw repaints all.</summary>
    public void Invalidate()
    {
        _drawn = [];
        Write(Esc + "H" + Esc + "2J");
    }

    public void Draw(IReadOnlyList<ScreenLine> lines)
    {
        var sb = new StringBuilder();
        var drawn = new string[lines.Count];
        for (int i = 0; i < lines.Count; i++)
        {
            string encoded = Encode(lines[i]);
            drawn[i] = encoded;
            if (i < _drawn.Length && _drawn[i] == encoded)
                continue;
            sb.Append(Esc).Append(i + 1).Append(";1H").Append(encoded).Append(Esc).Append("0m").Append(Esc).Append('K');
        }
        for (int i = lines.Count; i < _drawn.Length; i++)
            sb.Append(Esc).Append(i + 1).Append(";1H").Append(Esc).Append("0m").Append(Esc).Append('K');
        _drawn = drawn;
        if (sb.Length > 0)
            Write(sb.ToString());
    }

    /// <summary>A line with its SGR attributes: the emphasised part (the sort column) underlined.</summary>
    public static string Encode(ScreenLine line)
    {
        string style = Style(line.Style);
        if (line.EmphasisLength <= 0 || line.EmphasisStart >= line.Text.Length)
            return style + line.Text;
        int end = Math.Min(line.Text.Length, line.EmphasisStart + line.EmphasisLength);
        return style + line.Text[..line.EmphasisStart] + Esc + "1;4m" + line.Text[line.EmphasisStart..end]
            + Esc + "0m" + style + line.Text[end..];
    }

    private static string Style(LineStyle s) => s switch
    {
        LineStyle.Title => Esc + "1m",
        LineStyle.Header => Esc + "30;46m",
        LineStyle.Selected => Esc + "7m",
        LineStyle.Dim => Esc + "2m",
        LineStyle.Prompt => Esc + "36m",
        _ => Esc + "0m",
    };

    private void Write(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        _out.Write(bytes);
        _out.Flush();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            Write(Esc + "0m" + Esc + "?25h" + Esc + "?1049l");
        }
        catch (IOException)
        {
            // the terminal is gone: nothing to restore
        }
    }
}
