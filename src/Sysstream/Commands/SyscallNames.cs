using System.CommandLine.Parsing;
using Sysstream.Events;

namespace Sysstream.Cli.Commands;

/// <summary>`--syscall connect,accept4`: names as printed in FUNC (lower-case C names).</summary>
internal static class SyscallNames
{
    public static IReadOnlyList<string> Known { get; } =
        Enum.GetValues<Func>().Where(f => f is not Func.None and not Func.Count)
            .Select(f => System.Text.Encoding.UTF8.GetString(Names.FuncName(f))).ToArray();

    public static string[] Parse(ArgumentResult result)
    {
        var names = new List<string>();
        foreach (Token token in result.Tokens)
        {
            foreach (string name in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string n = name.ToLowerInvariant();
                if (!Known.Contains(n))
                {
                    result.AddError($"bad --syscall {name}: not a traced system call (one of {string.Join(", ", Known)})");
                    return [];
                }
                names.Add(n);
            }
        }
        return names.ToArray();
    }

    public static IReadOnlyList<Func> ToFuncs(string[]? names) =>
        (names ?? []).Select(n => Enum.GetValues<Func>().First(f => f is not Func.None and not Func.Count
            && System.Text.Encoding.UTF8.GetString(Names.FuncName(f)) == n)).Distinct().ToArray();
}
