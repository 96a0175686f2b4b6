using Xunit;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// A test that loads BPF programs: it runs as root and is skipped (not failed) otherwise.
/// Inside the test, <see cref="Skip"/> (Xunit.SkippableFact) skips on gaps found at run time,
/// e.g. a missing tool.
/// </summary>
public sealed class PrivilegedFactAttribute : SkippableFactAttribute
{
    public const string NotRoot = "needs root: these tests load BPF programs (run `dotnet test` as root)";

    public PrivilegedFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = NotRoot;
    }
}

/// <summary>The theory form of <see cref="PrivilegedFactAttribute"/>.</summary>
public sealed class PrivilegedTheoryAttribute : SkippableTheoryAttribute
{
    public PrivilegedTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = PrivilegedFactAttribute.NotRoot;
    }
}
