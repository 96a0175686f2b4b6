using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Sysstream.Interop;

namespace Sysstream.Bpf;

/// <summary>
/// Routes libbpf's messages: to stderr with --verbose; otherwise the last lines are kept so
/// that a failed load can show the verifier's reason.
/// </summary>
internal static unsafe class LibbpfLog
{
    private static readonly Queue<string> s_recent = new();
    private static volatile bool s_verbose;
    private static bool s_installed;

    public static void Install(bool verbose)
    {
        s_verbose = verbose;
        if (s_installed)
            return;
        s_installed = true;
        Libbpf.libbpf_set_print(&Print);
    }

    /// <summary>The last warnings libbpf printed, oldest first.</summary>
    public static string[] Recent()
    {
        lock (s_recent)
            return s_recent.ToArray();
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        try
        {
            if (level == Libbpf.LIBBPF_DEBUG && !s_verbose)
                return 0;
            const int size = 4096;
            byte* buf = stackalloc byte[size];
            int n = Libc.vsnprintf(buf, size, format, args);
            if (n <= 0)
                return 0;
            string text = Encoding.UTF8.GetString(buf, Math.Min(n, size - 1)).TrimEnd('\n');
            if (s_verbose)
            {
                Console.Error.WriteLine("libbpf: " + text);
                return 0;
            }
            lock (s_recent)
            {
                foreach (string line in text.Split('\n'))
                {
                    s_recent.Enqueue(line);
                    while (s_recent.Count > 40)
                        s_recent.Dequeue();
                }
            }
        }
        catch
        {
            // never let an exception cross into native code
        }
        return 0;
    }
}
