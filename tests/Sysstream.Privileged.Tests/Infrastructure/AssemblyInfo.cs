using System.Runtime.Versioning;

// The tracer and these tests exist for Linux only.
[assembly: SupportedOSPlatform("linux")]
