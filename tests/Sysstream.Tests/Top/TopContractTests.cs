using Sysstream.Btf;
using Sysstream.Events;
using Xunit;

namespace Sysstream.Tests.Top;

/// <summary>The committed top object carries the types top reads, with the sizes its maps were made for.</summary>
public sealed class TopContractTests
{
    private static BtfTypeTable TopBtf()
    {
        using Stream s = typeof(SyscallEvent).Assembly.GetManifestResourceStream("top.bpf.o")
            ?? throw new InvalidOperationException("top.bpf.o is not embedded");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return BtfReader.ReadElf(bytes);
    }

    [Fact]
    public void TopObject_HasTheRecordTypes()
    {
        var names = CSharpStructEmitter.SelectTypes(TopBtf()).Select(t => t.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "ss_top_pkey", "ss_top_proc", "ss_top_conn", "ss_top_conn_flags", "ss_sock",
            "ss_top_peer_key", "ss_top_peer", "ss_top_peer_flags" }, names);
    }

    [Fact]
    public unsafe void RecordSizes_MatchTheObject_AndPerCpuValuesAre8ByteAligned()
    {
        BtfTypeTable btf = TopBtf();
        Assert.Equal((long)sizeof(TopPkey), btf.FindStruct("ss_top_pkey")!.Size);
        Assert.Equal((long)sizeof(TopProc), btf.FindStruct("ss_top_proc")!.Size);
        Assert.Equal((long)sizeof(TopConn), btf.FindStruct("ss_top_conn")!.Size);
        Assert.Equal((long)sizeof(TopPeerKey), btf.FindStruct("ss_top_peer_key")!.Size);
        Assert.Equal((long)sizeof(TopPeer), btf.FindStruct("ss_top_peer")!.Size);
        // per-CPU map values are laid out 8-byte aligned by the kernel: no padding to undo
        Assert.Equal(0, sizeof(TopProc) % 8);
    }
}
