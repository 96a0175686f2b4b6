using Sysstream.Btf;
using Xunit;

namespace Sysstream.Tests.Btf;

public class GeneratedFreshnessTest
{
    [Fact]
    public void GeneratedCs_IsWhatTheEmbeddedObjectsGive()
    {
        string path = Path.Combine(BtfTestData.RepositoryRoot(), "src", "Sysstream.Core", "Events", "Generated.cs");
        string committed = File.ReadAllText(path).ReplaceLineEndings("\n");

        string emitted = CSharpStructEmitter.Emit(BtfTestData.EmbeddedObjects().Select(o => BtfReader.ReadElf(o.Bytes)).ToList());

        // On a difference: run `make -C bpf` (it regenerates Generated.cs from the object).
        Assert.Equal(committed, emitted);
    }
}
