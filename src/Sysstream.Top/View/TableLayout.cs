using System.Text;
using Sysstream.Top.Model;

namespace Sysstream.Top.View;

/// <summary>Lays columns out in a width and formats header and rows; shared by the screen and the text output.</summary>
public static class TableLayout
{
    public const int MinFlexible = 8;

    /// <summary>
    /// The columns that fit in <paramref name="width"/> with their widths: a flexible column takes
    /// the room left; when there is too little, the columns with the highest drop rank go.
    /// </summary>
    public static IReadOnlyList<(Column<T> Column, int Width)> Fit<T>(IReadOnlyList<Column<T>> columns, int width)
    {
        var chosen = columns.ToList();
        while (true)
        {
            int need = chosen.Sum(c => c.Flexible ? MinFlexible : c.Width) + Math.Max(0, chosen.Count - 1);
            if (need <= width)
                break;
            Column<T>? drop = chosen.Where(c => c.DropRank > 0).OrderByDescending(c => c.DropRank).FirstOrDefault();
            if (drop is null)
                break;
            chosen.Remove(drop);
        }
        int fixedWidth = chosen.Where(c => !c.Flexible).Sum(c => c.Width) + Math.Max(0, chosen.Count - 1);
        int flexCount = chosen.Count(c => c.Flexible);
        int flex = flexCount == 0 ? 0 : Math.Max(MinFlexible, (width - fixedWidth) / flexCount);
        return chosen.Select(c => (c, c.Flexible ? flex : c.Width)).ToList();
    }

    /// <summary>Natural widths for text output: every column as wide as its widest cell.</summary>
    public static IReadOnlyList<(Column<T> Column, int Width)> Natural<T>(IReadOnlyList<Column<T>> columns, IReadOnlyList<T> rows, ColumnContext ctx) =>
        columns.Select(c => (c, Math.Max(c.Header.Length, rows.Count == 0 ? 0 : rows.Max(r => c.Text(r, ctx).Length)))).ToList();

    public static string Header<T>(IReadOnlyList<(Column<T> Column, int Width)> layout, SortSpec sort, out int sortStart, out int sortLength)
    {
        var sb = new StringBuilder();
        sortStart = sortLength = 0;
        for (int i = 0; i < layout.Count; i++)
        {
            (Column<T> c, int w) = layout[i];
            if (i > 0)
                sb.Append(' ');
            if (c.Id == sort.Column)
            {
                sortStart = sb.Length;
                sortLength = w;
            }
            sb.Append(Units.Fit(c.Header, w, c.Right));
        }
        return sb.ToString().TrimEnd();
    }

    public static string Row<T>(IReadOnlyList<(Column<T> Column, int Width)> layout, T row, ColumnContext ctx)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < layout.Count; i++)
        {
            (Column<T> c, int w) = layout[i];
            if (i > 0)
                sb.Append(' ');
            sb.Append(Units.Fit(Sanitize(c.Text(row, ctx)), w, c.Right));
        }
        return sb.ToString().TrimEnd();
    }

    /// <summary>Control characters (from process names, command lines) never reach the terminal.</summary>
    public static string Sanitize(string text)
    {
        foreach (char ch in text)
        {
            if (char.IsControl(ch))
                return string.Create(text.Length, text, (span, t) =>
                {
                    for (int i = 0; i < t.Length; i++)
                        span[i] = char.IsControl(t[i]) ? '?' : t[i];
                });
        }
        return text;
    }
}
