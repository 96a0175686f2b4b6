using System.CommandLine;
using Sysstream.Cli.Commands;

var root = new RootCommand("sysstream: which process, run by whom, sent or received these bytes, to whom, and when.")
{
    TraceCommand.Create(),
    DoctorCommand.Create(),
    CaptureCommand.Create(),
    TopCommand.Create(),
    NetstatCommand.Create(),
    MapCommand.Create(),
    ServeCommand.Create(),
};
return await CommandRunner.RunAsync(root, args);
