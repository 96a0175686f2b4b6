using System.CommandLine;
using Sysstream.Cli.Commands;

var root = new RootCommand("sysstream: which process, run by whom, sent or received these bytes, to whom, and when.")
{
    TraceCommand.Create(),
    DoctorCommand.Create(),
};
return await CommandRunner.RunAsync(root, args);
