using Xunit.Sdk;

namespace Sysstream.Privileged.Tests.Infrastructure;

/// <summary>
/// Where the `sysstream` executable is: $SYSSTREAM_EXE when set (CI points it at the NativeAOT
/// binary), else the JIT build copied next to the tests, run as `dotnet sysstream.dll`.
/// </summary>
public sealed class SysstreamExecutable
{
    public const string EnvironmentVariable = "SYSSTREAM_EXE";

    /// <summary>The program to start.</summary>
    public string FileName { get; }

    /// <summary>Arguments that come before sysstream's own (the dll for `dotnet`).</summary>
    public IReadOnlyList<string> Prefix { get; }

    /// <summary>Native executable (true) or managed dll run by the dotnet host.</summary>
    public bool IsNative { get; }

    private SysstreamExecutable(string fileName, IReadOnlyList<string> prefix, bool native)
    {
        FileName = fileName;
        Prefix = prefix;
        IsNative = native;
    }

    private static readonly Lazy<SysstreamExecutable> s_default = new(Locate);

    public static SysstreamExecutable Default => s_default.Value;

    public IEnumerable<string> Arguments(IEnumerable<string> args) => Prefix.Concat(args);

    public override string ToString() => string.Join(' ', Prefix.Prepend(FileName));

    private static SysstreamExecutable Locate()
    {
        string? exe = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(exe))
        {
            if (!File.Exists(exe))
                throw new XunitException($"{EnvironmentVariable}={exe}: no such file");
            return new SysstreamExecutable(Path.GetFullPath(exe), [], native: true);
        }
        string dll = Path.Combine(AppContext.BaseDirectory, "sysstream.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            throw new XunitException($"sysstream.dll (with its runtimeconfig) is not in {AppContext.BaseDirectory}; build the solution or set {EnvironmentVariable}");
        return new SysstreamExecutable(DotnetHost(), [dll], native: false);
    }

    private static string DotnetHost()
    {
        // Set by `dotnet test`; the test host itself is also run by it.
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
            return host;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileName(self) == "dotnet")
            return self;
        return Tools.Find("dotnet", "/usr/bin/dotnet") ?? throw new XunitException("no dotnet host found");
    }

    /// <summary>
    /// A copy any user can run: every directory on the way 755, files 755. For running as an
    /// unprivileged user when the build output sits under a private directory such as /root.
    /// </summary>
    public SysstreamExecutable CopyForAnyUser(TempDir dir)
    {
        if (IsNative)
        {
            string target = dir.File("sysstream");
            File.Copy(FileName, target, overwrite: true);
            File.SetUnixFileMode(target, TempDir.Mode755);
            return new SysstreamExecutable(target, [], native: true);
        }
        string source = Path.GetDirectoryName(Prefix[0])!;
        string bin = dir.Sub("bin");
        CopyTree(source, bin);
        if (!EveryoneCanRun(FileName))
            throw new XunitException($"the dotnet host {FileName} is not executable by other users");
        return new SysstreamExecutable(FileName, [Path.Combine(bin, Path.GetFileName(Prefix[0]))], native: false);
    }

    private static void CopyTree(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from))
        {
            string target = Path.Combine(to, Path.GetFileName(file));
            File.Copy(file, target, overwrite: true);
            File.SetUnixFileMode(target, TempDir.Mode755);
        }
        foreach (string sub in Directory.EnumerateDirectories(from))
        {
            string target = Path.Combine(to, Path.GetFileName(sub));
            Directory.CreateDirectory(target);
            File.SetUnixFileMode(target, TempDir.Mode755);
            CopyTree(sub, target);
        }
    }

    /// <summary>The file has o+x and every directory above it o+x.</summary>
    private static bool EveryoneCanRun(string path)
    {
        string full = Path.GetFullPath(path);
        if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target)
            full = target.FullName;
        if ((File.GetUnixFileMode(full) & UnixFileMode.OtherExecute) == 0)
            return false;
        for (string? d = Path.GetDirectoryName(full); !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
        {
            if ((File.GetUnixFileMode(d) & UnixFileMode.OtherExecute) == 0)
                return false;
        }
        return true;
    }
}
