using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sysstream.Graph;

/// <summary>The export formats of the map: JSON (the documented schema), Graphviz DOT, Mermaid, and text.</summary>
public static class GraphWriters
{
    public static readonly string[] Formats = ["text", "json", "dot", "mermaid"];

    public static string Write(MapGraph g, string format) => format switch
    {
        "json" => Json(g),
        "dot" => Dot(g),
        "mermaid" => Mermaid(g),
        _ => Text(g, 80),
    };

    public static string Json(MapGraph g, bool indented = false)
    {
        if (!indented)
            return JsonSerializer.Serialize(g, MapJsonContext.Default.MapGraph);
        var ctx = new MapJsonContext(new JsonSerializerOptions(MapJsonContext.Default.Options) { WriteIndented = true });
        return JsonSerializer.Serialize(g, ctx.MapGraph);
    }

    public static byte[] JsonUtf8(MapGraph g) => JsonSerializer.SerializeToUtf8Bytes(g, MapJsonContext.Default.MapGraph);

    // ------------------------------------------------------------------ DOT

    /// <summary>A Graphviz digraph: left to right, applications as rounded boxes, remote addresses
    /// as ellipses, edges labelled with protocol/ports, connections and bytes each way; failed-only
    /// edges dashed red.</summary>
    public static string Dot(MapGraph g)
    {
        var sb = new StringBuilder();
        sb.Append("digraph sysstream {\n");
        sb.Append("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, nodesep=0.4, ranksep=1.1, label=")
          .Append(Quote($"sysstream map  {g.Time}  grouped by {g.GroupBy}")).Append(", labelloc=t];\n");
        sb.Append("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eaf1fb\", color=\"#4a6fa5\", fontname=\"Helvetica\", fontsize=10];\n");
        sb.Append("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#5b6b7f\"];\n");
        foreach (MapNode n in g.Nodes)
        {
            var label = new StringBuilder(n.Label);
            if (n.Kind == "process")
            {
                if (n.Pids.Count > 0)
                    label.Append("\npid ").Append(string.Join(' ', n.Pids.Take(6).Select(p => p.ToString(CultureInfo.InvariantCulture))))
                        .Append(n.Pids.Count > 6 ? " ..." : "");
                foreach (MapListener l in n.Listening.Take(4))
                    label.Append("\nlistens ").Append(l.Display);
                if (n.Listening.Count > 4)
                    label.Append($"\n(+{n.Listening.Count - 4} more)");
            }
            else if (n.Name is not null && n.Address is not null)
            {
                label.Append('\n').Append(n.Address);
            }
            string attrs = n.Kind switch
            {
                "remote" => ", shape=ellipse, fillcolor=\"#fdf0e0\", color=\"#c07a2c\"",
                "local" => ", shape=box, style=\"rounded,dashed\", fillcolor=\"#ffffff\", color=\"#999999\"",
                _ => "",
            };
            sb.Append("  ").Append(Quote(n.Id)).Append(" [label=").Append(Quote(label.ToString())).Append(attrs).Append("];\n");
        }
        ulong max = g.Edges.Count == 0 ? 1 : Math.Max(1, g.Edges.Max(e => e.BytesToServer + e.BytesToClient));
        foreach (MapEdge e in g.Edges)
        {
            var label = new StringBuilder();
            label.Append(e.Proto);
            if (e.Ports.Count > 0)
                label.Append('/').Append(string.Join(',', e.Ports.Take(4))).Append(e.Ports.Count > 4 ? ",..." : "");
            label.Append('\n').Append(ConnectionsText(e));
            if (e.BytesToServer + e.BytesToClient > 0)
                label.Append('\n').Append("\u2192 ").Append(Bytes(e.BytesToServer)).Append("  \u2190 ").Append(Bytes(e.BytesToClient));
            if (e.ConnectUs is { } cu)
                label.Append("\nconnect ").Append(Micros(cu.Avg));
            bool failedOnly = e.Failed > 0 && e.Failed == e.Opened;
            double width = 1 + 3 * Math.Log10(1 + 9.0 * (e.BytesToServer + e.BytesToClient) / max);
            sb.Append("  ").Append(Quote(e.From)).Append(" -> ").Append(Quote(e.To)).Append(" [label=").Append(Quote(label.ToString()))
              .Append(", penwidth=").Append(width.ToString("0.0", CultureInfo.InvariantCulture));
            if (failedOnly)
                sb.Append(", color=\"#c0392b\", fontcolor=\"#c0392b\", style=dashed");
            else if (e.Failed > 0)
                sb.Append(", color=\"#d68910\"");
            sb.Append("];\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>A DOT string literal: quotes and backslashes escaped, line breaks as \n.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default:
                    if (c < ' ')
                        sb.Append(' ');
                    else
                        sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }

    // ------------------------------------------------------------------ Mermaid

    /// <summary>A Mermaid flowchart (left to right), for Markdown documents.</summary>
    public static string Mermaid(MapGraph g)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var sb = new StringBuilder("flowchart LR\n");
        foreach (MapNode n in g.Nodes)
        {
            string id = "n" + ids.Count.ToString(CultureInfo.InvariantCulture);
            ids[n.Id] = id;
            string text = MermaidText(n.Label + (n.Listening.Count > 0 ? "<br/>listens " + string.Join(", ", n.Listening.Take(3).Select(l => l.Display)) : ""));
            sb.Append("  ").Append(id).Append(n.Kind switch
            {
                "remote" => "((\"" + text + "\"))",
                "local" => "[/\"" + text + "\"/]",
                _ => "[\"" + text + "\"]",
            }).Append('\n');
        }
        int i = 0;
        var failedLinks = new List<int>();
        foreach (MapEdge e in g.Edges)
        {
            string label = e.Proto + (e.Ports.Count > 0 ? "/" + string.Join(",", e.Ports.Take(3)) : "") + " " + ConnectionsText(e)
                + (e.BytesToServer + e.BytesToClient > 0 ? $" {Bytes(e.BytesToServer)}/{Bytes(e.BytesToClient)}" : "");
            sb.Append("  ").Append(ids[e.From]).Append(" -->|\"").Append(MermaidText(label)).Append("\"| ").Append(ids[e.To]).Append('\n');
            if (e.Failed > 0 && e.Failed == e.Opened)
                failedLinks.Add(i);
            i++;
        }
        foreach (int link in failedLinks)
            sb.Append("  linkStyle ").Append(link.ToString(CultureInfo.InvariantCulture)).Append(" stroke:#c0392b,stroke-dasharray:4\n");
        return sb.ToString();
    }

    private static string MermaidText(string s) => s.Replace("\"", "#quot;", StringComparison.Ordinal).Replace("\n", "<br/>", StringComparison.Ordinal);

    // ------------------------------------------------------------------ text

    /// <summary>
    /// An adjacency list sorted by traffic, readable at <paramref name="width"/> columns: each node
    /// with its processes and listening ports, then its outgoing (->) and incoming (<-) edges.
    /// </summary>
    public static string Text(MapGraph g, int width = 80)
    {
        var sb = new StringBuilder();
        foreach (string line in TextLines(g, width))
            sb.Append(line).Append('\n');
        return sb.ToString();
    }

    public static IEnumerable<string> TextLines(MapGraph g, int width = 80)
    {
        MapTotals t = g.Totals;
        yield return Fit($"{g.Time[..Math.Min(19, g.Time.Length)].Replace('T', ' ')}  {t.Nodes} nodes, {t.Edges} edges, {t.Opened} conns ({t.Open} open, {t.Failed} failed) \u2191{Bytes(t.BytesToServer)} \u2193{Bytes(t.BytesToClient)}", width);
        var label = g.Nodes.ToDictionary(n => n.Id, n => n.Label, StringComparer.Ordinal);
        foreach (MapNode n in g.Nodes)
        {
            var outgoing = g.Edges.Where(e => e.From == n.Id).ToList();
            var incoming = g.Edges.Where(e => e.To == n.Id && e.From != n.Id).ToList();
            yield return "";
            string head = n.Label;
            if (n.Kind == "process" && n.Pids.Count > 0)
                head += "  pid " + string.Join(',', n.Pids.Take(5).Select(p => p.ToString(CultureInfo.InvariantCulture))) + (n.Pids.Count > 5 ? ",..." : "");
            string traffic = $"tx {Bytes(n.TxBytes)} rx {Bytes(n.RxBytes)}";
            yield return Fit(PadBetween(head, traffic, width), width);
            if (n.Listening.Count > 0)
                yield return Fit("  listens " + string.Join(", ", n.Listening.Select(l => l.Display)), width);
            foreach (MapEdge e in outgoing)
                yield return EdgeLine("->", label.GetValueOrDefault(e.To, e.To), e, width);
            foreach (MapEdge e in incoming)
                yield return EdgeLine("<-", label.GetValueOrDefault(e.From, e.From), e, width);
        }
    }

    private static string EdgeLine(string arrow, string other, MapEdge e, int width)
    {
        string proto = e.Proto == "unix" && e.Ports.Count > 0 ? "unix " + e.Ports[0]
            : e.Proto + (e.Ports.Count > 0 ? "/" + string.Join(',', e.Ports.Take(2)) + (e.Ports.Count > 2 ? "+" : "") : "");
        string bytes = arrow == "->" ? $"\u2191{Bytes(e.BytesToServer)} \u2193{Bytes(e.BytesToClient)}" : $"\u2193{Bytes(e.BytesToServer)} \u2191{Bytes(e.BytesToClient)}";
        string rate = e.RateToServer + e.RateToClient > 0 ? $" {Bytes(e.RateToServer + e.RateToClient)}/s" : "";
        string lat = e.ConnectUs is { } c ? " " + Micros(c.Avg) : "";
        string right = $"{ConnectionsText(e)} {bytes}{rate}{lat}";
        int nameWidth = Math.Max(10, Math.Min(28, width - 6 - proto.Length - right.Length - 4));
        string left = $"  {arrow} {Cut(other, nameWidth).PadRight(nameWidth)} {proto}";
        return Fit(PadBetween(left, right, width), width);
    }

    /// <summary>"3 conn (1 open)", "1 failed ECONNREFUSED", "5 conn, 2 failed".</summary>
    public static string ConnectionsText(MapEdge e)
    {
        long ok = e.Opened - e.Failed;
        string err = e.Errors.Count > 0 ? " " + string.Join(',', e.Errors.Keys) : "";
        if (ok <= 0 && e.Failed > 0)
            return $"{e.Failed} failed{err}";
        string s = $"{e.Opened} conn" + (e.Open > 0 ? $" ({e.Open} open)" : "");
        if (e.Failed > 0)
            s += $", {e.Failed} failed{err}";
        return s;
    }

    private static string PadBetween(string left, string right, int width)
    {
        int gap = width - left.Length - right.Length;
        return gap >= 2 ? left + new string(' ', gap) + right : left + "  " + right;
    }

    private static string Cut(string s, int width) => s.Length <= width ? s : s[..Math.Max(1, width - 1)] + "+";

    private static string Fit(string s, int width) => s.Length <= width ? s : s[..Math.Max(1, width - 1)] + "+";

    /// <summary>1023 -> "1023B", 1536 -> "1.5K"; binary units.</summary>
    public static string Bytes(double value)
    {
        string[] suffixes = ["B", "K", "M", "G", "T", "P"];
        if (value < 0 || double.IsNaN(value))
            value = 0;
        int i = 0;
        while (value >= 1024 && i < suffixes.Length - 1)
        {
            value /= 1024;
            i++;
        }
        if (i == 0)
            return ((long)Math.Round(value)).ToString(CultureInfo.InvariantCulture) + "B";
        string fmt = value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00";
        return value.ToString(fmt, CultureInfo.InvariantCulture) + suffixes[i];
    }

    /// <summary>"85us", "12.3ms", "1.20s".</summary>
    public static string Micros(double us) =>
        us < 1000 ? us.ToString("0", CultureInfo.InvariantCulture) + "us"
        : us < 1_000_000 ? (us / 1000).ToString("0.0", CultureInfo.InvariantCulture) + "ms"
        : (us / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "s";
}
