using System.Buffers.Binary;
using Sysstream.Capture;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;
using Sysstream.Output;
using Sysstream.Tests.Btf;
using Sysstream.Tests.Output;
using Xunit;
using static Sysstream.Tests.Capture.CaptureFixtures;

namespace Sysstream.Tests.Capture;

/// <summary>
/// A seeded random-corruption test of everything <c>trace -r</c> runs on a file: the pcapng
/// reader, the sysstream block parser and the table and JSON writers. Every mutation of every
/// corpus file must read fine or fail with a <see cref="PcapngFormatException"/> whose offset
/// lies in the file: never another exception. The corpus (tests/Sysstream.Tests/Capture/corpus)
/// holds the seeds and every input that once broke the reader.
/// </summary>
public class CorruptionFuzzTests
{
    private const int MutationsPerFile = 2500;

    private static string CorpusDir => Path.Combine(BtfTestData.RepositoryRoot(), "tests", "Sysstream.Tests", "Capture", "corpus");

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.EnumerateFiles(CorpusDir, "*.pcapng").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Fact]
    public void The_corpus_has_seeds()
    {
        if (Environment.GetEnvironmentVariable("SYSSTREAM_WRITE_CORPUS") == "1")
            WriteSeeds();
        Assert.True(CorpusFiles().Count >= 3, $"no seed files in {CorpusDir}");
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Every_mutation_reads_or_fails_with_an_offset_in_the_file(string name)
    {
        byte[] seed = File.ReadAllBytes(Path.Combine(CorpusDir, name));
        int seedHash = 0;
        foreach (char c in name)
            seedHash = seedHash * 31 + c;
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < MutationsPerFile; i++)
        {
            var rng = new Random(seedHash ^ (i * 7919));
            byte[] input = Mutate(seed, rng);
            string outcome;
            try
            {
                outcome = ReadBothWays(input);
            }
            catch (PcapngFormatException ex)
            {
                Assert.True(ex.Offset >= 0 && ex.Offset <= input.Length,
                    $"{name} mutation {i}: offset {ex.Offset} outside the {input.Length}-byte file: {ex.Message}");
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                outcome = "format error";
            }
            catch (Exception ex)
            {
                string saved = Path.Combine(Path.GetTempPath(), $"sysstream-crash-{name}-{i}.pcapng");
                File.WriteAllBytes(saved, input);
                throw new Xunit.Sdk.XunitException($"{name} mutation {i}: {ex.GetType().Name}: {ex.Message} (input saved to {saved}; add it to the corpus once fixed)\n{ex}");
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        // The mutations must reach both outcomes, or the test proves little.
        Assert.True(outcomes.GetValueOrDefault("format error") > MutationsPerFile / 10, string.Join(", ", outcomes));
        Assert.True(outcomes.GetValueOrDefault("read") > 10, string.Join(", ", outcomes));
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Every_corpus_file_reads_or_fails_cleanly(string name)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(CorpusDir, name));
        try
        {
            ReadBothWays(input);
        }
        catch (PcapngFormatException ex)
        {
            Assert.InRange(ex.Offset, 0, input.Length);
        }
    }

    private static string ReadBothWays(byte[] input)
    {
        CaptureReplay.Replay(new MemoryStream(input), clock => new JsonEventWriter(Stream.Null, clock));
        CaptureReplay.Replay(new MemoryStream(input), clock => new TableEventWriter(Stream.Null, clock));
        return "read";
    }

    private static readonly uint[] Interesting = [0, 1, 3, 4, 8, 11, 12, 16, 28, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0x0A0D0D0A, 0x1A2B3C4D, 0x00000BAD, 6, 1 << 20];

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        byte[] b = (byte[])seed.Clone();
        int rounds = 1 + rng.Next(3);
        for (int r = 0; r < rounds && b.Length > 0; r++)
        {
            switch (rng.Next(8))
            {
                case 0: // flip bits
                    for (int k = 1 + rng.Next(4); k > 0; k--)
                        b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // a random byte
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case 2: // an interesting 32-bit word at an aligned offset (lengths, types, counts)
                    if (b.Length >= 4)
                        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(rng.Next(b.Length / 4) * 4), Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 3: // truncate
                    b = b[..rng.Next(b.Length)];
                    break;
                case 4: // insert random bytes
                {
                    int at = rng.Next(b.Length + 1);
                    byte[] extra = new byte[1 + rng.Next(16)];
                    rng.NextBytes(extra);
                    b = [.. b[..at], .. extra, .. b[at..]];
                    break;
                }
                case 5: // delete a range
                {
                    int at = rng.Next(b.Length);
                    int n = 1 + rng.Next(Math.Min(64, b.Length - at));
                    b = [.. b[..at], .. b[(at + n)..]];
                    break;
                }
                case 6: // duplicate a range (repeated blocks, misaligned copies)
                {
                    int at = rng.Next(b.Length);
                    int n = 1 + rng.Next(Math.Min(256, b.Length - at));
                    int to = rng.Next(b.Length + 1);
                    b = [.. b[..to], .. b[at..(at + n)], .. b[to..]];
                    break;
                }
                case 7: // a 16-bit field (option codes and lengths, sysstream kinds)
                    if (b.Length >= 2)
                        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(rng.Next(b.Length / 2) * 2), (ushort)(rng.Next(3) switch { 0 => 0, 1 => 0xffff, _ => rng.Next(65536) }));
                    break;
            }
        }
        return b;
    }

    /// <summary>Writes the seed files (run once with SYSSTREAM_WRITE_CORPUS=1, then commit them).</summary>
    private static void WriteSeeds()
    {
        Directory.CreateDirectory(CorpusDir);
        ulong t0 = TestEvents.T0;

        // A loopback HTTP exchange: system calls, a joined loopback pair, an unowned reset, losses.
        var h = new Harness();
        SockOwner curl = Owner(700, "curl", startNs: 1), nginx = Owner(800, "nginx", fd: 6, func: Func.Recvfrom, uid: 1000);
        var connect = TestEvents.Event(Func.Connect, Phase.Exit, ts: t0, ret: -115);
        TestEvents.Socket(ref connect, Sock.AF_INET, 1, 6, "127.0.0.1", 40000, "127.0.0.1", 80, cookie: 11, state: 2);
        h.Syscall(connect);
        var proc = ProcRecord(700, "curl -s http://127.0.0.1/");
        proc.StartNs = 1;
        h.Recorder.OnRecord(1, Bytes(proc));
        byte[] syn = Tcp4("127.0.0.1", 40000, "127.0.0.1", 80, 0x02, 1, 0);
        h.Packet(Packet(t0 + 10, true, 11, syn, curl));
        h.Packet(Packet(t0 + 20, false, 12, syn, nginx));
        h.Packet(Packet(t0 + 30, true, 12, Tcp4("127.0.0.1", 80, "127.0.0.1", 40000, 0x18, 1, 300), nginx, capLen: 100));
        h.Packet(Packet(t0 + 40, true, 99, Tcp4("127.0.0.1", 81, "127.0.0.1", 40001, 0x04, 0, 0)));
        var unix = TestEvents.Event(Func.Sendmsg, Phase.Exit, ts: t0 + 50, ret: 10);
        TestEvents.Socket(ref unix, Sock.AF_UNIX, 2, 0);
        h.Recorder.OnRecord(0, Bytes(new SyscallEventUnix { Ev = unix, Paths = TestEvents.Paths("@abstract", "/run/log") }));
        h.Recorder.OnRecord(0, Bytes(TestEvents.Lost(t0 + 60, 1, 4)));
        h.Recorder.OnRecord(1, Bytes(TestEvents.Lost(t0 + 70, 0, 2)));
        File.WriteAllBytes(Path.Combine(CorpusDir, "seed-loopback-http.pcapng"), h.Finish());

        // UDP over IPv6 and a second interface in another namespace.
        var u = new Harness();
        u.Packet(Packet(t0, true, 21, Udp6("::1", 5000, "::1", 6000, 33), curl));
        u.Packet(Packet(t0 + 5, false, 22, Udp6("::1", 5000, "::1", 6000, 33), nginx));
        u.Packet(Packet(t0 + 9, false, 23, Udp6("fd00::2", 7, "fd00::1", 7, 5), null, ifindex: 9));
        File.WriteAllBytes(Path.Combine(CorpusDir, "seed-udp6.pcapng"), u.Finish());

        // Another tool's big-endian file.
        File.WriteAllBytes(Path.Combine(CorpusDir, "seed-big-endian.pcapng"), PcapngFormatTests.BigEndianFile());
    }
}
