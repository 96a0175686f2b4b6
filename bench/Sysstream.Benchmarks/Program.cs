using BenchmarkDotNet.Running;

// Every benchmark in this assembly; pick with --filter, e.g.
//   dotnet run -c Release --project bench/Sysstream.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
