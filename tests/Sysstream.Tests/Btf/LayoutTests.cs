using System.Buffers.Binary;
using Sysstream.Btf;
using Xunit;
using Sysstream.Events;

namespace Sysstream.Tests.Btf;

public class LayoutTests
{
    private static readonly System.Reflection.Assembly Core = typeof(SyscallEvent).Assembly;

    [Fact]
    public void EveryEmbeddedObject_MatchesTheCSharpTypes()
    {
        var problems = new List<string>();
        foreach ((string name, byte[] bytes) in BtfTestData.EmbeddedObjects())
        {
            BtfTypeTable btf = BtfReader.ReadElf(bytes);
            if (!btf.Types.Any(t => t.Name.StartsWith(CSharpStructEmitter.Prefix, StringComparison.Ordinal) && t.Kind == BtfKind.Struct))
                continue; // an object with nothing that crosses into C# (the doctor's probes)
            problems.AddRange(LayoutChecker.Check(btf, Core).Select(p => $"{name}: {p}"));
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void EmbeddedObject_HasTheContractTypes()
    {
        BtfTypeTable btf = BtfReader.ReadElf(BtfTestData.EmbeddedObject);

        var names = CSharpStructEmitter.SelectTypes(btf).Select(t => t.Name).ToHashSet();

        Assert.Superset(
            new HashSet<string> { "ss_sock", "ss_syscall_event", "ss_unix_paths", "ss_syscall_event_unix", "ss_lost_event",
                "ss_stats", "ss_event_type", "ss_phase", "ss_func", "ss_event_flags", "ss_filter_flags", "ss_pid_flags" },
            names);
    }

    [Fact]
    public void Checker_ReportsAMovedMemberInTheEmbeddedObject()
    {
        byte[] elf = (byte[])BtfTestData.EmbeddedObject.Clone();
        BtfType sock = BtfReader.ReadElf(elf).FindStruct("ss_sock")!;
        int seq = sock.Members.ToList().FindIndex(m => m.Name == "seq");
        Assert.True(seq >= 0);
        // btf_type is 12 bytes, then 12 bytes per member; the member's bit offset is its third word.
        int at = checked((int)sock.Offset + 12 + 12 * seq + 8);
        Assert.Equal(sock.Members[seq].BitOffset, BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(at)));
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(at), sock.Members[seq].BitOffset + 32);

        List<string> problems = LayoutChecker.Check(BtfReader.ReadElf(elf), Core);

        string problem = Assert.Single(problems);
        Assert.Contains("struct ss_sock.seq", problem);
        Assert.Contains("Seq is at byte 52", problem);
    }

    [Fact]
    public void Checker_ReportsSizeOffsetEnumAndMissingDifferences()
    {
        var b = new BtfBlobBuilder();
        int u64 = b.Int("unsigned long long", 8);
        int u16 = b.Int("unsigned short", 2);
        b.Struct("ss_stats", 24, ("events", u64, 0, 0), ("lost", u64, 64, 0), ("unreported", u64, 96, 0));
        b.Struct("ss_lost_event", 32, ("type", u16, 0, 0));
        b.Enum("ss_phase", 4, false, ("SS_PHASE_ENTER", 0), ("SS_PHASE_EXIT", 2));
        b.Struct("ss_not_in_csharp", 8, ("x", u64, 0, 0));

        List<string> problems = LayoutChecker.Check(BtfReader.ReadRaw(b.Build()), Core);

        Assert.Contains(problems, p => p.StartsWith("struct ss_stats.unreported: bit offset 96", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("struct ss_lost_event: size 32", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("struct ss_lost_event: LostEvent.Cpu has no BTF member", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("enum ss_phase.SS_PHASE_EXIT: value 2", StringComparison.Ordinal));
        Assert.Contains(problems, p => p == "struct ss_not_in_csharp: no C# type NotInCsharp");
    }

    [Fact]
    public void Checker_ReportsAMemberSizeDifference()
    {
        var b = new BtfBlobBuilder();
        int u64 = b.Int("unsigned long long", 8);
        int u32 = b.Int("unsigned int", 4);
        b.Struct("ss_stats", 24, ("events", u64, 0, 0), ("lost", u64, 64, 0), ("unreported", u32, 128, 0));

        List<string> problems = LayoutChecker.Check(BtfReader.ReadRaw(b.Build()), Core);

        Assert.Equal(["struct ss_stats.unreported: 4 bytes, but Stats.Unreported has 8"], problems);
    }
}
