using Sysstream.Aggregation;
using Sysstream.Top.Input;
using Sysstream.Top.Model;
using Xunit;
using static Sysstream.Tests.Top.TopFixtures;

namespace Sysstream.Tests.Top;

public sealed class TopModelTests
{
    /// <summary>Three processes over one second: b is busiest, c exited, a idle.</summary>
    private static TopFrame Frame(ulong at = 2, ulong bTx = 3000)
    {
        TopSnapshot before = Snap(Second, [ProcRow(10, "a", tx: 100), ProcRow(20, "b", tx: 0), ProcRow(30, "c", rx: 0)]);
        TopSnapshot now = Snap(at * Second,
            [ProcRow(10, "a", tx: 100, uid: 1000), ProcRow(20, "b", tx: bTx, rx: 10), ProcRow(30, "c", rx: 500, exitNs: Second)],
            [
                Tcp(1, 20, "127.0.0.1", 5000, "10.0.0.1", 80, tx: bTx, comm: "b"),
                Tcp(2, 10, "127.0.0.1", 5001, "10.0.0.2", 22, tx: 100, comm: "a"),
                Tcp(3, 20, "127.0.0.1", 5002, "10.0.0.2", 443, rx: 10, comm: "b"),
            ]);
        return FrameBuilder.Build(before, now, new FakeFacts());
    }

    private static TopState State() => TopModel.WithFrame(new TopState { PageRows = 10 }, Frame());

    private static TopState Keys(TopState s, params object[] keys)
    {
        foreach (object k in keys)
        {
            TopKey key = k switch
            {
                char c => TopKey.Of(c),
                ConsoleKey ck => TopKey.Of(ck),
                _ => throw new ArgumentException(k.ToString()),
            };
            s = TopModel.Apply(s, KeyMap.Map(key, s));
        }
        return s;
    }

    private static int[] Pids(TopState s) => TopModel.Processes(s).Select(p => p.Pid).ToArray();

    [Fact]
    public void DefaultOrder_IsBusiestFirst()
    {
        Assert.Equal([20, 30, 10], Pids(State()));
    }

    [Fact]
    public void SortByColumnLetter_ThenAgainReverses()
    {
        TopState s = Keys(State(), 'P');
        Assert.Equal(ColumnId.Pid, s.ProcessSort.Column);
        Assert.Equal([30, 20, 10], Pids(s)); // numbers: biggest first
        s = Keys(s, 'P');
        Assert.Equal([10, 20, 30], Pids(s));
        s = Keys(s, 'N');
        Assert.Equal([10, 20, 30], Pids(s)); // names: a, b, c ascending
        s = Keys(s, 'r');
        Assert.Equal([30, 20, 10], Pids(s));
    }

    [Fact]
    public void SortNextAndPrevious_WalkTheColumns()
    {
        TopState s = Keys(State(), 's');
        Assert.Equal(ColumnId.Pid, s.ProcessSort.Column);
        s = Keys(s, '>');
        Assert.Equal(ColumnId.Ppid, s.ProcessSort.Column);
        s = Keys(s, '<', '<');
        Assert.Equal(ColumnId.Comm, s.ProcessSort.Column); // wraps to the last column
    }

    [Fact]
    public void SortByRxRate()
    {
        TopState s = Keys(State(), 'R');
        Assert.Equal([30, 20, 10], Pids(s)); // 500/s, 10/s, 0
    }

    [Fact]
    public void Filter_ByTypedText_EnterKeeps_EscClears()
    {
        TopState s = Keys(State(), '/', 'E', 'x', 'I', 't');
        Assert.True(s.EditingFilter);
        Assert.Equal([30], Pids(s)); // the ST column of the exited process (case-insensitive)
        s = Keys(s, ConsoleKey.Enter);
        Assert.False(s.EditingFilter);
        Assert.Equal("ExIt", s.Filter);
        Assert.Equal([30], Pids(s));
        s = Keys(s, ConsoleKey.Escape);
        Assert.Equal("", s.Filter);
        Assert.Equal(3, Pids(s).Length);
    }

    [Fact]
    public void Filter_MatchesUserAndCommandLine_Backspace()
    {
        TopState s = Keys(State(), '/', 'u', '1', '0', '0', '0');
        Assert.Equal([10], Pids(s)); // user u1000
        s = Keys(s, ConsoleKey.Backspace, ConsoleKey.Backspace, ConsoleKey.Backspace, ConsoleKey.Backspace, ConsoleKey.Backspace);
        s = Keys(s, 'm', 'd', ' ', '2');
        Assert.Equal([20], Pids(s)); // "cmd 20"
    }

    [Fact]
    public void Views_SwitchWithKeys_EnterOpensAProcessesConnections_EscGoesBack()
    {
        TopState s = Keys(State(), 'c');
        Assert.Equal(TopViewKind.Connections, s.View);
        Assert.Equal(3, TopModel.Connections(s).Count);
        s = Keys(s, 'h');
        Assert.Equal(TopViewKind.Hosts, s.View);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], TopModel.Hosts(s).Select(h => h.Address).Order());
        s = Keys(s, '1');
        Assert.Equal(TopViewKind.Processes, s.View);

        s = Keys(s, ConsoleKey.Enter); // the top row: pid 20
        Assert.Equal(TopViewKind.Connections, s.View);
        Assert.Equal(20, s.FocusPid);
        Assert.Equal([1UL, 3UL], TopModel.Connections(s).Select(c => c.Totals.Cookie).Order());
        s = Keys(s, ConsoleKey.Escape);
        Assert.Equal(TopViewKind.Processes, s.View);
        Assert.Null(s.FocusPid);
        Assert.Equal(20, TopModel.Processes(s)[s.Selected].Pid);

        s = Keys(s, ConsoleKey.Tab, ConsoleKey.Tab);
        Assert.Equal(TopViewKind.Hosts, s.View);
    }

    [Fact]
    public void EnterOnAHost_ShowsConnectionsToIt()
    {
        TopState s = Keys(State(), 'h', 'M'); // by address, ascending: 10.0.0.1 first
        Assert.Equal("10.0.0.1", TopModel.Hosts(s)[0].Address);
        s = Keys(s, ConsoleKey.Enter);
        Assert.Equal(TopViewKind.Connections, s.View);
        Assert.Equal([1UL], TopModel.Connections(s).Select(c => c.Totals.Cookie));
    }

    [Fact]
    public void Selection_MovesClampsAndFollowsItsRow()
    {
        TopState s = Keys(State(), ConsoleKey.DownArrow);
        Assert.Equal(1, s.Selected);
        Assert.Equal(30, TopModel.Processes(s)[s.Selected].Pid);
        s = Keys(s, ConsoleKey.DownArrow, ConsoleKey.DownArrow, ConsoleKey.DownArrow);
        Assert.Equal(2, s.Selected);
        s = Keys(s, ConsoleKey.Home);
        Assert.Equal(0, s.Selected);
        s = Keys(s, ConsoleKey.End);
        Assert.Equal(2, s.Selected);

        // a new frame reorders rows (a becomes busiest): the selection stays on pid 10
        s = s with { Selected = 2 };
        Assert.Equal(10, TopModel.Processes(s)[2].Pid);
        TopSnapshot before = Snap(2 * Second, [ProcRow(10, "a", tx: 100), ProcRow(20, "b", tx: 3000, rx: 10), ProcRow(30, "c", rx: 500, exitNs: Second)]);
        TopSnapshot after = Snap(3 * Second, [ProcRow(10, "a", tx: 900_000), ProcRow(20, "b", tx: 3000, rx: 10), ProcRow(30, "c", rx: 500, exitNs: Second)]);
        s = TopModel.WithFrame(s, FrameBuilder.Build(before, after, new FakeFacts()));
        Assert.Equal(10, TopModel.Processes(s)[s.Selected].Pid);
        Assert.Equal(0, s.Selected);
    }

    [Fact]
    public void Paging_ScrollsByThePage()
    {
        var procs = Enumerable.Range(1, 50).Select(i => ProcRow(i, "p" + i, tx: (ulong)i)).ToList();
        TopFrame f = FrameBuilder.Build(Snap(Second), Snap(2 * Second, procs), new FakeFacts());
        TopState s = TopModel.WithFrame(new TopState { PageRows = 10 }, f);

        s = Keys(s, ConsoleKey.PageDown);
        Assert.Equal(10, s.Selected);
        Assert.True(s.Scroll <= 10 && 10 < s.Scroll + 10);
        s = Keys(s, ConsoleKey.End);
        Assert.Equal(49, s.Selected);
        Assert.Equal(40, s.Scroll);
        s = TopModel.Apply(s, TopCommand.Resize(25));
        Assert.Equal(25, s.Scroll); // no half-empty page
        s = Keys(s, ConsoleKey.PageUp);
        Assert.Equal(24, s.Selected);
    }

    [Fact]
    public void Pause_HoldsFrames_ResumeShowsTheNewest()
    {
        TopState s = Keys(State(), 'p');
        Assert.True(s.Paused);
        TopFrame newer = Frame(at: 3, bTx: 9999);
        s = TopModel.WithFrame(s, newer);
        Assert.NotSame(newer, s.Frame);
        Assert.Same(newer, s.Held);
        s = Keys(s, 'p');
        Assert.False(s.Paused);
        Assert.Same(newer, s.Frame);
        Assert.Null(s.Held);
    }

    [Fact]
    public void Help_AnyKeyCloses_QuitStillQuits()
    {
        TopState s = Keys(State(), '?');
        Assert.True(s.ShowHelp);
        s = Keys(s, 'c');
        Assert.False(s.ShowHelp);
        Assert.Equal(TopViewKind.Processes, s.View); // the key only closed the help
        s = Keys(s, '?', 'q');
        Assert.True(s.Quit);
    }

    [Fact]
    public void CommandLineToggle()
    {
        TopState s = Keys(State(), 'a');
        Assert.True(s.ShowCommandLine);
        Assert.Equal("cmd 20", Columns.Processes.Single(c => c.Id == ColumnId.Comm).Text(TopModel.Processes(s)[0], TopModel.Context(s)));
    }

    [Fact]
    public void KeyMap_FilterModeTakesText_NormalModeTakesCommands()
    {
        var normal = new TopState();
        var editing = new TopState { EditingFilter = true };
        Assert.Equal(CommandKind.Quit, KeyMap.Map(TopKey.Of('q'), normal).Kind);
        Assert.Equal(CommandKind.FilterInput, KeyMap.Map(TopKey.Of('q'), editing).Kind);
        Assert.Equal('q', KeyMap.Map(TopKey.Of('q'), editing).Char);
        Assert.Equal(CommandKind.Quit, KeyMap.Map(new TopKey(ConsoleKey.C, '\u0003', Control: true), editing).Kind);
        Assert.Equal(CommandKind.Down, KeyMap.Map(TopKey.Of(ConsoleKey.DownArrow), editing).Kind);
        Assert.Equal(CommandKind.TogglePause, KeyMap.Map(TopKey.Of('p'), normal).Kind);
        Assert.Equal(CommandKind.ShowHosts, KeyMap.Map(TopKey.Of('h'), normal).Kind);
        Assert.Equal(CommandKind.None, KeyMap.Map(TopKey.Of('A'), normal).Kind); // no AGE column in the process view
        Assert.Equal(ColumnId.Age, KeyMap.Map(TopKey.Of('A'), normal with { View = TopViewKind.Connections }).Column);
    }

    [Fact]
    public void EveryViewHasUniqueSortKeys()
    {
        foreach (TopViewKind v in Enum.GetValues<TopViewKind>())
        {
            var keys = TopModel.SortKeys(v).Select(k => k.Key).ToList();
            Assert.Equal(keys.Count, keys.Distinct().Count());
            Assert.All(keys, k => Assert.InRange(k, 'A', 'Z'));
        }
    }
}
