using Sysstream.Btf;
using Xunit;

namespace Sysstream.Tests.Btf;

/// <summary>The BPF object embedded in Sysstream.Core and the repository paths the tests compare against.</summary>
internal static class BtfTestData
{
    private static readonly Lazy<byte[]> Object = new(LoadObject);

    /// <summary>The bytes of the embedded trace.bpf.o.</summary>
    public static byte[] EmbeddedObject => Object.Value;

    /// <summary>The .BTF section of the embedded object (raw BTF).</summary>
    public static byte[] EmbeddedRawBtf()
    {
        Assert.True(ElfReader.TryFindSection(EmbeddedObject, ".BTF", out int offset, out int length));
        return EmbeddedObject.AsSpan(offset, length).ToArray();
    }

    /// <summary>The file offset of the .BTF section in the embedded object.</summary>
    public static int EmbeddedBtfOffset()
    {
        Assert.True(ElfReader.TryFindSection(EmbeddedObject, ".BTF", out int offset, out _));
        return offset;
    }

    /// <summary>The folder that holds Sysstream.sln, found by walking up from the test binaries.</summary>
    /// <summary>Every embedded BPF object (one per area), by resource name.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> EmbeddedObjects()
    {
        var assembly = typeof(Sysstream.Events.SyscallEvent).Assembly;
        var result = new List<(string, byte[])>();
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".bpf.o", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            result.Add((name, copy.ToArray()));
        }
        return result;
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sysstream.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no Sysstream.sln above {AppContext.BaseDirectory}");
    }

    private static byte[] LoadObject()
    {
        using Stream? stream = typeof(Sysstream.Events.SyscallEvent).Assembly.GetManifestResourceStream("trace.bpf.o");
        Assert.NotNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
