using Relay.Bench;
using Relay.Bench.Baseline;

// relay-bench: a real relay-broker process (embedded PostgreSQL in a temporary data directory, or --database),
// simulated agents speaking AgentLink, and the one-INSERT-per-request HTTP baseline on the same machine. Prints a
// table of figures against the targets of issue 8; --markdown refreshes the broker section of docs/benchmarks.md.
// Exit codes: 0 when every scenario ran (missed targets are reported, not failed), 1 when one failed its own checks,
// 2 usage.
if (args is [BaselineServer.Command])
{
    return await BaselineServer.RunAsync(Environment.GetEnvironmentVariable("RELAY_BENCH_BASELINE_DATABASE")
        ?? throw new InvalidOperationException("RELAY_BENCH_BASELINE_DATABASE is not set."));
}

if (BenchOptions.Parse(args, Console.Error) is not { } options)
{
    return 2;
}

return await BenchRun.RunAsync(options);
