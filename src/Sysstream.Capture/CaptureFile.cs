using System.Buffers;
using System.Text.Json;
using Sysstream.Capture.Pcapng;
using Sysstream.Events;

namespace Sysstream.Capture;

/// <summary>What the session block says about a capture (JSON in the file).</summary>
public sealed record CaptureDescription
{
    public string Hostname { get; init; } = "";
    public string Kernel { get; init; } = "";
    public string Arguments { get; init; } = "";
    public uint SnapLength { get; init; }
    public IReadOnlyList<string> Hooks { get; init; } = [];
    public bool Syscalls { get; init; } = true;
    public string Version { get; init; } = "";
}

/// <summary>The start of a sysstream pcapng file: the section header, then the session block.</summary>
public static class CaptureFile
{
    public const string Application = "sysstream";

    public static void Begin(PcapngWriter writer, EventClock clock, CaptureDescription d)
    {
        writer.BeginSectionHeader();
        writer.AddStringOption(OptionCode.Comment,
            "sysstream capture: IP packets of local sockets with the process behind each end (packet comments); "
            + $"system calls in custom blocks (PEN {SysstreamBlocks.EnterpriseNumber})");
        writer.AddStringOption(OptionCode.ShbHardware, System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant());
        if (d.Kernel.Length > 0)
            writer.AddStringOption(OptionCode.ShbOs, d.Kernel);
        writer.AddStringOption(OptionCode.ShbUserApplication, d.Version.Length > 0 ? $"{Application} {d.Version}" : Application);
        writer.EndBlock();

        var json = new ArrayBufferWriter<byte>(512);
        using (var j = new Utf8JsonWriter(json))
        {
            j.WriteStartObject();
            j.WriteString("application", Application);
            j.WriteString("version", d.Version);
            j.WriteString("hostname", d.Hostname);
            j.WriteString("kernel", d.Kernel);
            j.WriteString("arguments", d.Arguments);
            j.WriteNumber("snaplen", d.SnapLength);
            j.WriteBoolean("syscalls", d.Syscalls);
            j.WriteStartArray("hooks");
            foreach (string h in d.Hooks)
                j.WriteStringValue(h);
            j.WriteEndArray();
            j.WriteString("clock", "kernel timestamps are CLOCK_MONOTONIC; add realtime_offset_ns for the wall clock");
            j.WriteNumber("realtime_offset_ns", clock.RealtimeOffsetNs);
            j.WriteEndObject();
        }
        SysstreamBlocks.WriteSession(writer, clock.RealtimeOffsetNs, json.WrittenSpan);
    }
}
