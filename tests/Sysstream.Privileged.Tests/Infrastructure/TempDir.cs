namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// A scratch directory under /tmp, readable by every user (nginx workers and the non-root runs
/// need that), removed on dispose.
/// </summary>
public sealed class TempDir : IDisposable
{
    public const UnixFileMode Mode755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public string Path { get; }

    public TempDir(string prefix)
    {
        Path = Directory.CreateTempSubdirectory($"sysstream-{prefix}-").FullName;
        System.IO.File.SetUnixFileMode(Path, Mode755);
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Sub(string name)
    {
        string p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        System.IO.File.SetUnixFileMode(p, Mode755);
        return p;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
