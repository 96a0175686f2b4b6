using Microsoft.Win32.SafeHandles;

namespace Sysstream.Cli.Commands;

/// <summary>
/// stdout for data. Console's own stream ignores EPIPE, so `sysstream trace | head` would trace on
/// forever; a FileStream on fd 1 reports it, and the command stops quietly.
/// </summary>
internal static class StandardOutput
{
    public static Stream Open()
    {
        try
        {
            return new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return Console.OpenStandardOutput();
        }
    }
}
