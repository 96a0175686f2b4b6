// Writes (or with --check, verifies) the C# structs generated from the BTF of the BPF objects.
// Usage: BtfGen [--check] <out.cs> <in.bpf.o>...
using Sysstream.Btf;

bool check = args.Length > 0 && args[0] == "--check";
string[] rest = check ? args[1..] : args;
if (rest.Length < 2)
{
    Console.Error.WriteLine("usage: BtfGen [--check] <out.cs> <in.bpf.o>...");
    return 2;
}

string output = rest[0];
string[] inputs = rest[1..];

string text;
string current = "";
try
{
    var tables = new List<BtfTypeTable>();
    foreach (string input in inputs)
    {
        current = input;
        tables.Add(BtfReader.ReadElf(File.ReadAllBytes(input)));
    }
    current = string.Join(", ", inputs);
    text = CSharpStructEmitter.Emit(tables);
}
catch (Exception e) when (e is BtfFormatException or BtfMappingException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"BtfGen: {current}: {e.Message}");
    return 2;
}

try
{
    if (check)
    {
        string existing = File.Exists(output) ? File.ReadAllText(output).ReplaceLineEndings("\n") : "";
        if (existing != text)
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
