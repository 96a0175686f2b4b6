using Sysstream.Btf;
using Xunit;

namespace Sysstream.Tests.Btf;

public class CSharpStructEmitterTests
{
    [Theory]
    [InlineData("ss_syscall_event_unix", "SyscallEventUnix")]
    [InlineData("ss_sock", "Sock")]
    public void TypeName_DropsThePrefixAndPascalCases(string c, string cs) => Assert.Equal(cs, CSharpStructEmitter.TypeName(c));

    [Theory]
    [InlineData("ts_ns", "TsNs")]
    [InlineData("cgroup_id", "CgroupId")]
    [InlineData("_pad0", "_pad0")]
    [InlineData("laddr", "Laddr")]
    public void FieldName_PascalCasesUnlessUnderscored(string c, string cs) => Assert.Equal(cs, CSharpStructEmitter.FieldName(c));

    [Fact]
    public void EnumMemberNames_DropTheCommonPrefix()
    {
        var b = new BtfBlobBuilder();
        int a = b.Enum("ss_a", 4, false, ("SS_EF_SOCK", 1), ("SS_EF_SEQ", 2), ("SS_EF_PEER_FROM_ARGS", 4));
        int single = b.Enum("ss_b", 4, false, ("SS_PID_TRACED", 1));
        int digits = b.Enum("ss_c", 4, false, ("SS_LEVEL_1", 1), ("SS_LEVEL_2", 2));
        int nested = b.Enum("ss_d", 4, false, ("SS_FOO", 1), ("SS_FOO_BAR", 2));
        BtfTypeTable btf = BtfReader.ReadRaw(b.Build());

        Assert.Equal(["Sock", "Seq", "PeerFromArgs"], CSharpStructEmitter.EnumMemberNames(btf[a]));
        Assert.Equal(["Traced"], CSharpStructEmitter.EnumMemberNames(btf[single]));
        Assert.Equal(["Level1", "Level2"], CSharpStructEmitter.EnumMemberNames(btf[digits]));
        Assert.Equal(["Foo", "FooBar"], CSharpStructEmitter.EnumMemberNames(btf[nested]));
    }

    [Fact]
    public void Emit_MapsTypesAndOrdersByName()
    {
        var b = new BtfBlobBuilder();
        int u8 = b.Int("unsigned char", 1);
        int chr = b.Int("char", 1, signed: true);
        int s16 = b.Int("short", 2, signed: true);
        int s64 = b.Typedef("__s64", b.Int("long long", 8, signed: true));
        int u32 = b.Typedef("__u32", b.Int("unsigned int", 4));
        int phase = b.Enum("ss_phase", 4, false, ("SS_PHASE_ENTER", 0), ("SS_PHASE_EXIT", 1));
        int inner = b.Struct("ss_inner", 4, ("v", u32, 0, 0));
        b.Struct("ss_outer", 48,
            ("ret", b.Const(s64), 0, 0),
            ("inner", inner, 64, 0),
            ("name", b.Array(chr, u32, 5), 96, 0),
            ("shorts", b.Array(s16, u32, 2), 136, 0),
            ("c", chr, 168, 0),
            ("_pad0", u8, 176, 0),
            ("ph", phase, 192, 0),
            ("words", b.Array(u32, u32, 4), 256, 0));
        b.Enum("ss_signed_flags", 8, true, ("SS_S_NEG", -5), ("SS_S_POS", 3));

        string cs = CSharpStructEmitter.Emit(BtfReader.ReadRaw(b.Build()));

        string body = cs[cs.IndexOf("namespace", StringComparison.Ordinal)..];
        Assert.Equal(
            """
            namespace Sysstream.Events;

            public enum Phase : uint
            {
                Enter = 0,
                Exit = 1,
            }

            [System.Flags]
            public enum SignedFlags : long
            {
                Neg = -5,
                Pos = 3,
            }

            [StructLayout(LayoutKind.Explicit, Size = 4)]
            public unsafe partial struct Inner
            {
                [FieldOffset(0)] public uint V;
            }

            [StructLayout(LayoutKind.Explicit, Size = 48)]
            public unsafe partial struct Outer
            {
                [FieldOffset(0)] public long Ret;
                [FieldOffset(8)] public Inner Inner;
                [FieldOffset(12)] public fixed byte Name[5];
                [FieldOffset(17)] public fixed short Shorts[2];
                [FieldOffset(21)] public byte C;
                [FieldOffset(22)] public byte _pad0;
                [FieldOffset(24)] public Phase Ph;
                [FieldOffset(32)] public fixed uint Words[4];
            }

            """.ReplaceLineEndings("\n"),
            body);
    }

    public static TheoryData<string, byte[]> Unmappable()
    {
        var data = new TheoryData<string, byte[]>();
        byte[] Build(Action<BtfBlobBuilder, int> build)
        {
            var b = new BtfBlobBuilder();
            int u32 = b.Int("unsigned int", 4);
            build(b, u32);
            return b.Build();
        }
        data.Add("bitfields", Build((b, u32) => b.Struct("ss_x", 4, ("a", u32, 0, 3), ("b", u32, 3, 5))));
        data.Add("unions", Build((b, u32) => b.Struct("ss_x", 4, ("u", b.Union("", 4, ("a", u32, 0, 0)), 0, 0))));
        data.Add("unions", Build((b, u32) => b.Union("ss_u", 4, ("a", u32, 0, 0))));
        data.Add("pointers", Build((b, u32) => b.Struct("ss_x", 8, ("p", b.Ptr(u32), 0, 0))));
        data.Add("only ss_* structs", Build((b, u32) => b.Struct("ss_x", 4, ("k", b.Struct("kernel", 4, ("a", u32, 0, 0)), 0, 0))));
        data.Add("fixed buffers", Build((b, u32) => b.Struct("ss_x", 8, ("a", b.Array(b.Struct("ss_y", 4, ("v", u32, 0, 0)), u32, 2), 0, 0))));
        data.Add("nested arrays", Build((b, u32) => b.Struct("ss_x", 16, ("a", b.Array(b.Array(u32, u32, 2), u32, 2), 0, 0))));
        data.Add("arrays of 0 elements", Build((b, u32) => b.Struct("ss_x", 4, ("v", u32, 0, 0), ("tail", b.Array(u32, u32, 0), 32, 0))));
        data.Add("does not fit", Build((b, u32) => b.Struct("ss_x", 4, ("v", u32, 16, 0))));
        data.Add("equals its struct's name", Build((b, u32) => b.Struct("ss_x", 4, ("x", u32, 0, 0))));
        data.Add("defined twice", Build((b, u32) => { b.Struct("ss_x", 4, ("v", u32, 0, 0)); b.Struct("ss_x", 4, ("w", u32, 0, 0)); }));
        data.Add("does not fit 1 bytes", Build((b, u32) => b.Enum("ss_e", 1, false, ("SS_E_BIG", 300))));
        data.Add("no struct or enum", Build((b, u32) => b.Struct("other", 4, ("v", u32, 0, 0))));
        data.Add("16-byte integers", Build((b, u32) => b.Struct("ss_x", 16, ("v", b.Int("__int128", 16), 0, 0))));
        data.Add("does not give a C# identifier", Build((b, u32) => b.Enum("ss_e", 4, false, ("", 1))));
        data.Add("does not give a C# identifier", Build((b, u32) => b.Struct("ss_x", 4, ("a-b", u32, 0, 0))));
        data.Add("has no C# integer type", Build((b, u32) => b.Enum("ss_e", 3, false, ("SS_E_A", 1))));
        data.Add("anonymous members", Build((b, u32) => b.Struct("ss_x", 4, ("", u32, 0, 0))));
        return data;
    }

    [Theory]
    [MemberData(nameof(Unmappable))]
    public void Emit_FailsOnWhatCSharpCannotHold(string expected, byte[] blob)
    {
        BtfTypeTable btf = BtfReader.ReadRaw(blob);

        var e = Assert.Throws<BtfMappingException>(() => CSharpStructEmitter.Emit(btf));

        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
