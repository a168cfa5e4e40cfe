using System.Globalization;
using Relay.Grpc;
using Relay.Grpc.Bench;

// relay-grpc-bench: client and server of src/Grpc in one process, over loopback h2c (and a Unix socket
// with --unix). Prints a table of figures against the targets; --markdown refreshes docs/benchmarks.md.
// Exit codes: 0 when every scenario ran (missed targets are reported, not failed), 1 when one broke, 2 usage.
if (BenchOptions.Parse(args, Console.Error) is not { } options)
{
    return 2;
}

var machine = MachineInfo.Read();
var started = DateTimeOffset.UtcNow;
var loadBefore = MachineInfo.LoadAverage();
Console.WriteLine($"relay-grpc-bench: {machine}");
Console.WriteLine($"load average {loadBefore}; {options.Warmup.TotalSeconds:0.#} s warm-up + {options.Duration.TotalSeconds:0.#} s per scenario, {options.Runs} run(s)");

var scenarios = Scenarios.All(options.Batch).Where(s => options.Only is null || options.Only.Contains(s.Id)).ToList();
var settings = new BenchSettings(options.Warmup, options.Duration, options.Batch);
var shortSettings = new BenchSettings(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(1), options.Batch);
var rows = new List<Row>();
try
{
    await using var server = await BenchServer.StartAsync(options.Unix);
    List<(string Name, string Address)> transports = [("tcp", server.TcpAddress)];
    if (server.UnixPath is { } unixPath)
    {
        transports.Add(("unix", "unix:" + unixPath));
    }

    foreach (var (name, address) in transports)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var invoker = channel.CreateCallInvoker();

        // One short pass first so tiered JIT and the connection are warm before anything is measured.
        foreach (var scenario in scenarios)
        {
            await scenario.Run(invoker, server, shortSettings);
        }

        var runs = scenarios.ToDictionary(s => s.Id, _ => new List<Measurement>());
        for (var run = 1; run <= options.Runs; run++)
        {
            // Scenarios are interleaved across runs so a burst of load elsewhere hits one run of each, not every run of one.
            foreach (var scenario in scenarios)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var m = await scenario.Run(invoker, server, settings);
                runs[scenario.Id].Add(m);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  [{name} run {run}/{options.Runs}] {scenario.Id,-10} {Format.Count(m.Rate),10}/s  p50 {Format.Us(m.P50Us),7} µs  p99 {Format.Us(m.P99Us),7} µs  cpu {m.CpuPercent,4:0} % {m.CpuUsPerOperation,6:0.00} µs/op  {m.BytesPerOperation,6:0} B/op  gen0 {m.Gen0} gen2 {m.Gen2}  load {MachineInfo.LoadAverage()}"));
            }
        }

        rows.AddRange(scenarios.Select(s => new Row(s, name, runs[s.Id])));
    }
}
catch (Exception ex) when (ex is RpcException or InvalidOperationException or OperationCanceledException or IOException)
{
    Console.Error.WriteLine($"relay-grpc-bench: a scenario failed: {ex}");
    return 1;
}

var loadAfter = MachineInfo.LoadAverage();
Console.WriteLine();
Report.PrintTable(Console.Out, rows);
Console.WriteLine($"load average before {loadBefore}, after {loadAfter}");
if (options.Markdown is { } path)
{
    Report.WriteMarkdown(path, Report.Markdown(rows, machine, options, started, loadBefore, loadAfter));
    Console.WriteLine($"figures written to {path}");
}

return 0;
