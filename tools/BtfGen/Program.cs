// Writes (or with --check, verifies) the C# structs generated from the BTF of the BPF object.
// Usage: BtfGen <in.bpf.o> <out.cs> [--check]
using Sysstream.Btf;

if (args.Length is < 2 or > 3 || (args.Length == 3 && args[2] != "--check"))
{
    Console.Error.WriteLine("usage: BtfGen <in.bpf.o> <out.cs> [--check]");
    return 2;
}

string input = args[0];
string output = args[1];
bool check = args.Length == 3;

string text;
try
{
    text = CSharpStructEmitter.Emit(BtfReader.ReadElf(File.ReadAllBytes(input)));
}
catch (Exception e) when (e is BtfFormatException or BtfMappingException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"BtfGen: {input}: {e.Message}");
    return 2;
}

try
{
    if (check)
    {
        string current = File.Exists(output) ? File.ReadAllText(output).ReplaceLineEndings("\n") : "";
        if (current != text)
        {
            Console.Error.WriteLine($"BtfGen: {output} is stale: run `make -C bpf` (or BtfGen without --check)");
            return 1;
        }
        return 0;
    }

    // Leave the file (and its timestamp) alone when nothing changed.
    if (!File.Exists(output) || File.ReadAllText(output) != text)
    {
        File.WriteAllText(output, text);
    }
    return 0;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"BtfGen: {output}: {e.Message}");
    return 2;
}
