using System.Buffers.Binary;
using Sysstream.Btf;
using Xunit;

namespace Sysstream.Tests.Btf;

public class BtfReaderTests
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";

    [Fact]
    public void EmbeddedObject_ParsesWithTheExpectedShapes()
    {
        BtfTypeTable btf = BtfReader.ReadElf(BtfTestData.EmbeddedObject);

        BtfType ev = Assert.IsType<BtfType>(btf.FindStruct("ss_syscall_event"));
        Assert.Equal(176u, ev.Size);
        Assert.Equal("ts_ns", ev.Members[4].Name);
        Assert.Equal(64u, ev.Members[4].BitOffset);
        BtfType tsNs = btf.Resolve(ev.Members[4].TypeId);
        Assert.Equal((BtfKind.Int, 8u, 64), (tsNs.Kind, tsNs.Size, tsNs.IntBits));
        BtfType comm = btf.Resolve(ev.Members.Single(m => m.Name == "comm").TypeId);
        Assert.Equal(BtfKind.Array, comm.Kind);
        Assert.Equal(16u, comm.Array.Count);
        Assert.True(btf.TryGetSize(comm.Id, out ulong commSize));
        Assert.Equal(16ul, commSize);

        BtfType func = Assert.IsType<BtfType>(btf.FindEnum("ss_func"));
        Assert.False(func.IsSigned);
        Assert.Equal(("SS_FUNC_ACCEPT4", 7L), (func.EnumValues[7].Name, func.EnumValues[7].Value));
    }

    [Fact]
    public void RawAndElf_GiveTheSameTypes()
    {
        BtfTypeTable fromElf = BtfReader.ReadElf(BtfTestData.EmbeddedObject);
        BtfTypeTable fromRaw = BtfReader.ReadRaw(BtfTestData.EmbeddedRawBtf());
        BtfTypeTable detected = BtfReader.Read(BtfTestData.EmbeddedObject);

        Assert.Equal(fromElf.Count, fromRaw.Count);
        Assert.Equal(fromElf.Count, detected.Count);
        Assert.Equal(fromElf.Types.Select(t => (t.Kind, t.Name)), fromRaw.Types.Select(t => (t.Kind, t.Name)));
    }

    [Fact]
    public void ElfOffsets_AreFileOffsets()
    {
        byte[] elf = (byte[])BtfTestData.EmbeddedObject.Clone();
        int btf = BtfTestData.EmbeddedBtfOffset();
        elf[btf + 2] = 7; // version

        var e = Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(elf));

        Assert.Equal(btf + 2, e.Offset);
        Assert.Contains($"at offset 0x{btf + 2:x}", e.Message);
    }

    [Fact]
    public void AllKinds_AreRead()
    {
        var b = new BtfBlobBuilder();
        int i32 = b.Int("int", 4, signed: true);                                  // 1
        int ptr = b.Ptr(i32);                                                     // 2
        int arr = b.Array(i32, i32, 3);                                           // 3
        int st = b.Struct("s", 12, ("a", arr, 0, 0));                             // 4
        int un = b.Union("u", 4, ("x", i32, 0, 0), ("y", i32, 0, 0));             // 5
        int en = b.Enum("e", 4, true, ("E_NEG", -1));                             // 6
        int fwd = b.Raw(b.Str("f"), BtfKind.Fwd, 0, true, 0);                     // 7
        int td = b.Typedef("t", i32);                                             // 8
        int vol = b.Raw(0, BtfKind.Volatile, 0, false, (uint)td);                 // 9
        int cst = b.Const(vol);                                                   // 10
        int res = b.Raw(0, BtfKind.Restrict, 0, false, (uint)ptr);                // 11
        int fn = b.Raw(b.Str("fn"), BtfKind.Func, 1, false, 13);                  // 12, refers forward
        int proto = b.Raw(0, BtfKind.FuncProto, 2, false, (uint)i32, b.Str("p"), (uint)i32, 0, 0); // 13
        int var = b.Raw(b.Str("v"), BtfKind.Var, 0, false, (uint)cst, 1);         // 14
        int sec = b.Raw(b.Str(".data"), BtfKind.Datasec, 1, false, 4, (uint)var, 0, 4); // 15
        int flt = b.Raw(b.Str("double"), BtfKind.Float, 0, false, 8);             // 16
        int tag = b.Raw(b.Str("tag"), BtfKind.DeclTag, 0, false, (uint)st, 0);    // 17
        int ttag = b.Raw(b.Str("user"), BtfKind.TypeTag, 0, false, (uint)i32);    // 18
        int e64 = b.Enum64("e64", false, ("BIG", unchecked((long)0xFFFF_0000_0000_0001UL)));   // 19

        BtfTypeTable btf = BtfReader.ReadRaw(b.Build());

        Assert.Equal(20, btf.Count);
        Assert.Equal(Enum.GetValues<BtfKind>(), btf.Types.Select(t => t.Kind));
        Assert.Equal(BtfIntEncoding.Signed, btf[i32].IntEncoding);
        Assert.Equal(new BtfArray(i32, i32, 3), btf[arr].Array);
        Assert.Equal(-1, btf[en].EnumValues[0].Value);
        Assert.True(btf[en].IsSigned);
        Assert.True(btf[fwd].KindFlag);
        Assert.Same(btf[i32], btf.Resolve(cst));
        Assert.Same(btf[i32], btf.Resolve(ttag));
        Assert.Same(btf[ptr], btf.Resolve(res));
        Assert.Equal([new BtfParam("p", i32), new BtfParam("", 0)], btf[proto].Params);
        Assert.Equal((proto, 1u), (btf[fn].TypeId, btf[fn].Linkage));
        Assert.Equal((cst, 1u), (btf[var].TypeId, btf[var].Linkage));
        Assert.Equal([new BtfVarSecInfo(var, 0, 4)], btf[sec].Variables);
        Assert.Equal(8u, btf[flt].Size);
        Assert.Equal((st, 0), (btf[tag].TypeId, btf[tag].ComponentIndex));
        Assert.Equal(unchecked((long)0xFFFF_0000_0000_0001UL), btf[e64].EnumValues[0].Value);
        Assert.Same(btf[un], btf.Find(BtfKind.Union, "u"));
        Assert.Same(btf[e64], btf.FindEnum("e64"));
        Assert.True(btf.TryGetSize(cst, out ulong size) && size == 4);
        Assert.True(btf.TryGetSize(st, out size) && size == 12);
        Assert.False(btf.TryGetSize(fn, out _));
    }

    public static TheoryData<string, byte[]> MalformedBlobs()
    {
        var data = new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "short", [0x9F, 0xEB, 1, 0] },
        };
        byte[] Patch(Action<BtfBlobBuilder> build, Action<byte[]> patch)
        {
            var b = new BtfBlobBuilder();
            build(b);
            byte[] blob = b.Build();
            patch(blob);
            return blob;
        }
        void OneInt(BtfBlobBuilder b) => b.Int("int", 4, true);
        data.Add("bad magic", Patch(OneInt, blob => blob[0] = 0));
        data.Add("big-endian", Patch(OneInt, blob => { blob[0] = 0xEB; blob[1] = 0x9F; }));
        data.Add("version 2", Patch(OneInt, blob => blob[2] = 2));
        data.Add("flags", Patch(OneInt, blob => blob[3] = 1));
        data.Add("header too short", Patch(OneInt, blob => blob[4] = 20));
        data.Add("header too long", Patch(OneInt, blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(4), 100_000)));
        data.Add("types unaligned", Patch(OneInt, blob => blob[8] = 2));
        data.Add("types past end", Patch(OneInt, blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(12), 0xFFFF_FFF0)));
        data.Add("strings past end", Patch(OneInt, blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(16), 0xFFFF_FFFF)));
        data.Add("sections overlap", Patch(OneInt, blob => blob[16] = 4));
        data.Add("strings without leading NUL", Patch(OneInt, blob => blob[24 + 16] = (byte)'x'));
        data.Add("strings without trailing NUL", Patch(OneInt, blob => blob[^1] = (byte)'x'));
        data.Add("name offset past strings", Patch(OneInt, blob => blob[24] = 200));
        data.Add("unknown kind", Patch(OneInt, blob => blob[24 + 7] = 20));
        data.Add("kind 0", Patch(OneInt, blob => blob[24 + 7] = 0));
        data.Add("int size 3", Patch(OneInt, blob => blob[24 + 8] = 3));
        data.Add("int bits past size", Patch(OneInt, blob => blob[24 + 12] = 33));
        data.Add("truncated record", Patch(OneInt, blob => blob[12] = 12));
        data.Add("vlen past section", Patch(b => b.Struct("s", 4), blob => blob[24 + 4] = 200));
        data.Add("type id past table", Patch(b => b.Ptr(5), _ => { }));
        data.Add("member type past table", Patch(b => b.Struct("s", 4, ("m", 9, 0, 0)), _ => { }));
        data.Add("huge type id", Patch(b => b.Typedef("t", unchecked((int)0x8000_0000)), _ => { }));
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedBlobs))]
    public void MalformedBlob_Throws(string what, byte[] blob)
    {
        var e = Assert.Throws<BtfFormatException>(() => BtfReader.ReadRaw(blob));
        Assert.True(e.Offset >= 0 && e.Offset <= Math.Max(blob.Length, 1), $"{what}: offset {e.Offset}");
    }

    [Fact]
    public void TypedefLoop_ThrowsOnResolve()
    {
        var b = new BtfBlobBuilder();
        b.Typedef("a", 2);
        b.Const(1);

        BtfTypeTable btf = BtfReader.ReadRaw(b.Build());

        Assert.Throws<BtfFormatException>(() => btf.Resolve(1));
        Assert.Throws<BtfFormatException>(() => btf.TryGetSize(2, out _));
    }

    [Fact]
    public void ArraySizeOverflow_Throws()
    {
        var b = new BtfBlobBuilder();
        int u64 = b.Int("unsigned long long", 8);
        int inner = b.Array(u64, u64, uint.MaxValue);
        int outer = b.Array(inner, u64, uint.MaxValue);

        BtfTypeTable btf = BtfReader.ReadRaw(b.Build());

        Assert.Throws<BtfFormatException>(() => btf.TryGetSize(outer, out _));
    }

    [Fact]
    public void MalformedElf_Throws()
    {
        byte[] elf = BtfTestData.EmbeddedObject;
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(BtfTestData.EmbeddedRawBtf()));
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e[4] = 1)));     // ELF32
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e[5] = 2)));     // big-endian
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e.AsSpan(0x28, 8).Fill(0xFF))));
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e.AsSpan(0x28, 8).Clear())));
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e[0x3E] = 0xF0)));
        Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(Mutated(elf, e => e[0x3A] = 10)));

        static byte[] Mutated(byte[] source, Action<byte[]> change)
        {
            byte[] copy = (byte[])source.Clone();
            change(copy);
            return copy;
        }
    }

    [Fact]
    public void ElfWithoutBtf_Throws()
    {
        byte[] elf = (byte[])BtfTestData.EmbeddedObject.Clone();
        // In the section name table; the linker may share it as the tail of ".rel.BTF".
        int name = elf.AsSpan().IndexOf(".BTF\0"u8);
        Assert.True(name > 0);
        elf[name + 1] = (byte)'X';

        var e = Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(elf));
        Assert.Contains("no .BTF section", e.Message);
    }

    [Fact]
    public void Truncations_Throw()
    {
        byte[] raw = BtfTestData.EmbeddedRawBtf();
        byte[] elf = BtfTestData.EmbeddedObject;
        for (int length = 0; length < raw.Length; length += length < 256 ? 1 : 997)
        {
            Assert.Throws<BtfFormatException>(() => BtfReader.ReadRaw(raw.AsSpan(0, length)));
        }
        for (int length = 0; length < elf.Length; length += length < 256 ? 1 : 1499)
        {
            Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(elf.AsSpan(0, length)));
        }
    }

    [Fact]
    public void TruncatedTypeSection_Throws()
    {
        // A consistent header whose type section ends inside a record.
        byte[] raw = BtfTestData.EmbeddedRawBtf();
        uint typeLen = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(12));
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            byte[] copy = (byte[])raw.Clone();
            uint cut = (uint)random.Next(1, (int)typeLen) & ~3u;
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(12), cut);
            try
            {
                BtfReader.ReadRaw(copy); // a cut on a record boundary can still parse
            }
            catch (BtfFormatException)
            {
            }
        }
    }

    [Fact]
    public void Garbage_Throws()
    {
        var random = new Random(42);
        for (int i = 0; i < 300; i++)
        {
            var bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);
            if (i % 2 == 1 && bytes.Length >= 4)
            {
                bytes[0] = 0x9F; // raw BTF magic and version, garbage after
                bytes[1] = 0xEB;
                bytes[2] = 1;
                bytes[3] = 0;
            }
            Assert.Throws<BtfFormatException>(() => BtfReader.ReadRaw(bytes));
            Assert.Throws<BtfFormatException>(() => BtfReader.ReadElf(bytes));
        }
    }

    [Fact]
    public void RandomCorruptions_ParseOrThrowBtfFormatException()
    {
        const int Seed = 20240611;
        var random = new Random(Seed);
        byte[] raw = BtfTestData.EmbeddedRawBtf();
        byte[] elf = BtfTestData.EmbeddedObject;
        int parsed = 0, rejected = 0;
        for (int i = 0; i < 600; i++)
        {
            bool useElf = i % 3 == 0;
            byte[] copy = (byte[])(useElf ? elf : raw).Clone();
            int flips = random.Next(1, 5);
            for (int f = 0; f < flips; f++)
            {
                // Half of the hits go to the headers and the first records, where they matter most.
                int hot = useElf ? 0x40 : 24 + 12 * 40;
                int pos = random.Next(2) == 0 ? random.Next(Math.Min(hot, copy.Length)) : random.Next(copy.Length);
                if (useElf && random.Next(4) == 0)
                {
                    pos = BtfTestData.EmbeddedBtfOffset() + random.Next(24 + 12 * 40);
                }
                copy[pos] = random.Next(3) switch
                {
                    0 => (byte)random.Next(256),
                    1 => (byte)(copy[pos] ^ (1 << random.Next(8))),
                    _ => 0xFF,
                };
            }
            try
            {
                BtfTypeTable btf = useElf ? BtfReader.ReadElf(copy) : BtfReader.ReadRaw(copy);
                Exercise(btf);
                parsed++;
            }
            catch (BtfFormatException)
            {
                rejected++;
            }
            catch (BtfMappingException)
            {
                parsed++;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {Seed}, iteration {i} ({(useElf ? "ELF" : "raw")}): {e}");
            }
        }
        Assert.True(parsed > 0 && rejected > 0, $"parsed {parsed}, rejected {rejected}");
    }

    [SkippableFact]
    public void Vmlinux_HasStructSockWithSkCommon()
    {
        Skip.IfNot(File.Exists(VmlinuxPath), $"{VmlinuxPath} is not present");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(VmlinuxPath);
        }
        catch (UnauthorizedAccessException)
        {
            Skip.If(true, $"{VmlinuxPath} is not readable");
            return;
        }

        BtfTypeTable btf = BtfReader.ReadRaw(bytes);

        BtfType sock = Assert.IsType<BtfType>(btf.FindStruct("sock"));
        BtfMember common = Assert.Single(sock.Members, m => m.Name == "__sk_common");
        Assert.Equal(0u, common.BitOffset);
        Assert.Equal("sock_common", btf.Resolve(common.TypeId).Name);
        Assert.NotNull(btf.FindStruct("task_struct"));
        Assert.Equal(sock.Id, BtfReader.Read(bytes).FindStruct("sock")?.Id);
    }

    /// <summary>Walks everything a parsed table offers; only BtfFormatException/BtfMappingException may escape.</summary>
    private static void Exercise(BtfTypeTable btf)
    {
        foreach (BtfType t in btf.Types)
        {
            btf.Resolve(t.Id);
            btf.TryGetSize(t.Id, out _);
            _ = t.ToString();
        }
        btf.FindStruct("ss_sock");
        btf.FindEnum("ss_func");
        CSharpStructEmitter.Emit(btf);
    }
}
