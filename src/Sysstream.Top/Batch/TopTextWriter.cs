using System.Text;
using Sysstream.Aggregation;
using Sysstream.Top.Model;
using Sysstream.Top.View;

namespace Sysstream.Top.Batch;

/// <summary>
/// `top` when the output is not a terminal (like `top -b`): per frame a title, the totals and the
/// chosen view as a plain table with every row, columns as wide as their widest cell.
/// </summary>
public sealed class TopTextWriter
{
    private readonly TextWriter _out;
    private readonly TopViewKind _view;
    private readonly bool _commandLines;

    public TopTextWriter(TextWriter output, TopViewKind view, bool commandLines)
    {
        _out = output;
        _view = view;
        _commandLines = commandLines;
    }

    public void Write(TopFrame frame, string clock, string filters)
    {
        var state = new TopState { Frame = frame, View = _view, ShowCommandLine = _commandLines };
        var sb = new StringBuilder();
        sb.AppendLine(TopRenderer.Title(state, new RenderContext(0, 0, clock, filters)));
        sb.AppendLine(TopRenderer.TotalsLine(frame.Totals));
        sb.AppendLine();
        switch (_view)
        {
            case TopViewKind.Connections:
                Table(sb, Columns.Connections, TopModel.Connections(state), state);
                break;
            case TopViewKind.Hosts:
                Table(sb, Columns.Hosts, TopModel.Hosts(state), state);
                break;
            default:
                Table(sb, Columns.Processes, TopModel.Processes(state), state);
                break;
        }
        sb.AppendLine();
        _out.Write(sb.ToString());
        _out.Flush();
    }

    private static void Table<T>(StringBuilder sb, IReadOnlyList<Column<T>> columns, IReadOnlyList<T> rows, TopState state)
    {
        ColumnContext ctx = TopModel.Context(state);
        var layout = TableLayout.Natural(columns, rows, ctx);
        sb.AppendLine(TableLayout.Header(layout, state.Sort, out _, out _));
        foreach (T row in rows)
            sb.AppendLine(TableLayout.Row(layout, row, ctx));
    }
}
