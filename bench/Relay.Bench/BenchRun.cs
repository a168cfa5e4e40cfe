using Npgsql;
using Relay.Bench.Baseline;
using Relay.Bench.Hosting;
using Relay.Bench.Scenarios;

namespace Relay.Bench;

/// <summary>Runs the selected scenarios against one broker, then reports.</summary>
internal static class BenchRun
{
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Broker settings for the run. Enrolment is rate-limited per client address (30/min by default), and every
    /// simulated machine enrols from 127.0.0.1.
    /// </summary>
    private static readonly Dictionary<string, string> BrokerSettings = new() { ["Access:EnrollAttemptsPerMinute"] = "0" };

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var guard = new CancellationTokenSource(Guard);
        var token = guard.Token;
        var files = FileLimit.RaiseToHard();
        if (options.AgentBench.AgentDirectory is { } agentDirectory)
        {
            AgentProcess.UseProgramIn(agentDirectory);
        }

        var started = DateTimeOffset.UtcNow;
        var loadBefore = MachineInfo.LoadAverage();
        var machine = MachineInfo.Describe();
        Console.WriteLine($"relay-bench: {machine}");
        Console.WriteLine($"load average {loadBefore}; open files limit {files?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}; " +
                          $"{options.Warmup.TotalSeconds:0.#} s warm-up + {options.Duration.TotalSeconds:0.#} s per ingest scenario");

        var dataDirectory = Path.Combine(Path.GetTempPath(), "relay-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var rows = new List<ReportRow>();
        var failed = false;
        var postgres = "unknown";
        var ingest = new Dictionary<int, Throughput>();
        var baseline = new Dictionary<int, Throughput>();
        Throughput? latency = null;
        var run = 0;
        string Prefix(string what) => $"bench-{started:HHmmss}-{what}-{++run}";

        BrokerProcess? broker = null;
        try
        {
            Progress("starting relay-broker" + (options.Database is null ? $" with its embedded PostgreSQL in {dataDirectory}" : " on --database"));
            broker = await BrokerProcess.StartAsync(dataDirectory, options.Database, BrokerSettings, token);
            postgres = await DescribePostgresAsync(broker.ConnectionString, token);
            Progress($"broker pid {broker.Pid} at {broker.Address}; PostgreSQL {postgres}");

            if (options.BrokerWarmup > TimeSpan.Zero && (options.Runs("ingest") || options.Runs("ingest-10k-latency")))
            {
                // A broker fresh from start runs its hot paths at lower JIT tiers for tens of seconds on a loaded 2-core
                // machine (perf: a third of its samples in the JIT), which is start-up cost, not sustained throughput.
                Progress($"warming the broker up: 10 agents for {options.BrokerWarmup.TotalSeconds:0} s, not measured");
                var w = await IngestScenario.RunAsync(broker, 10, rate: null, TimeSpan.Zero, options.BrokerWarmup, Prefix("warmup"), token);
                Progress($"warm-up: {Report.Count(w.Rate)} events/s, broker {w.ServerCpuUsPerEvent:0} µs/event");
            }

            if (options.Runs("ingest"))
            {
                foreach (var agents in options.Agents)
                {
                    var id = $"ingest-{agents}";
                    failed |= !await AttemptAsync(id, rows, "≥ 20,000 events/s", async () =>
                    {
                        var m = await IngestScenario.RunAsync(broker, agents, rate: null, options.Warmup, options.Duration, Prefix(id), token);
                        ingest[agents] = m;
                        Progress($"{id}: {Report.Count(m.Rate)} events/s, ack p50 {m.P50Ms:0.00} ms p99 {m.P99Ms:0.00} ms, broker {m.ServerCpuUsPerEvent:0} µs/event, pg {m.PostgresCpuUsPerEvent:0} µs/event, {m.EventsPerTransaction:0.0} events per db transaction");
                    });
                }
            }

            if (options.Runs("ingest-10k-latency"))
            {
                failed |= !await AttemptAsync("ingest-10k-latency", rows, "p99 ≤ 50 ms", async () =>
                {
                    Progress(await DatabaseSettle.RunAsync(broker, token));
                    latency = await IngestScenario.RunAsync(broker, options.LatencyAgents, options.LatencyRate, options.Warmup, options.Duration, Prefix("latency"), token, options.AckTrace);
                    Progress($"ingest-10k-latency: offered {options.LatencyRate:0}/s, acked {Report.Count(latency.Rate)}/s, ack p50 {latency.P50Ms:0.00} ms p99 {latency.P99Ms:0.00} ms, {latency.EventsPerTransaction:0.0} events per db transaction, broker {latency.ServerCpuUsPerEvent:0} µs/event");
                });
            }

            if (options.Runs("prompt-roundtrip"))
            {
                failed |= !await AttemptAsync("prompt-roundtrip", rows, Report.RoundTripTarget, async () =>
                {
                    Progress(await DatabaseSettle.RunAsync(broker, token));
                    var m = await PromptRoundTripScenario.RunAsync(broker, options.PromptSessions, options.PromptRate, options.PromptWarmup, options.Duration, Prefix("prompts"), Progress, token);
                    rows.Add(Report.PromptRoundTrip(m));
                    Progress($"prompt-roundtrip: {Report.RoundTripSummary(m)}; CPU per prompt: broker {m.BrokerCpuUsPerPrompt:0} µs, pg {m.PostgresCpuUsPerPrompt:0} µs, agent {m.AgentCpuUsPerPrompt:0} µs, channel {m.ChannelCpuUsPerPrompt:0} µs; {m.CommitsPerPrompt:0.0} db transactions per prompt");
                });
            }

            if (options.Runs("baseline-http-insert"))
            {
                failed |= !await AttemptAsync("baseline-http-insert", rows, "—", async () =>
                {
                    await ExecuteAsync(broker.ConnectionString, BaselineServer.CreateTable, token);
                    try
                    {
                        await using var server = await BaselineProcess.StartAsync(broker.ConnectionString, token);
                        foreach (var concurrency in options.Agents)
                        {
                            var m = await BaselineScenario.RunAsync(broker, server, concurrency, options.Warmup, options.Duration, Prefix("baseline"), token);
                            baseline[concurrency] = m;
                            Progress($"baseline-http-insert ({concurrency}): {Report.Count(m.Rate)} events/s, p50 {m.P50Ms:0.00} ms p99 {m.P99Ms:0.00} ms, server {m.ServerCpuUsPerEvent:0} µs/event, pg {m.PostgresCpuUsPerEvent:0} µs/event");
                        }
                    }
                    finally
                    {
                        await ExecuteAsync(broker.ConnectionString, $"DROP TABLE IF EXISTS {BaselineServer.Table}", CancellationToken.None);
                    }
                });
            }

            // The agent scenarios run before capacity-idle: recovery kills and restarts the broker, and capacity-idle starts a
            // fresh one anyway.
            failed |= !await AgentScenarios.RunAsync(options, broker, rows, Prefix, Progress, (id, target, scenario) => AttemptAsync(id, rows, target, scenario), token);

            if (options.Runs("capacity-idle"))
            {
                // A fresh broker process, so its memory before the streams is not what the ingest runs left behind.
                Progress("restarting relay-broker for capacity-idle");
                await broker.DisposeAsync();
                broker = null;
                broker = await BrokerProcess.StartAsync(dataDirectory, options.Database, BrokerSettings, token);
                failed |= !await AttemptAsync("capacity-idle", rows, "5,000 streams at ≤ 64 KiB each", async () =>
                {
                    var m = await CapacityScenario.RunAsync(broker, options.IdleStreams, options.IdleWindow, Prefix("idle"), Progress, token);
                    rows.Add(Report.CapacityRow(m));
                    Progress($"capacity-idle: {m.Streams} streams, {m.BytesPerStream / 1024:0.0} KiB/stream, idle CPU broker {m.BrokerCpuPercent:0.0} % pg {m.PostgresCpuPercent:0.0} %");
                });
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException or NpgsqlException or Grpc.RpcException)
        {
            Console.Error.WriteLine($"relay-bench: the run could not go on: {ex.Message}" + (broker is null ? string.Empty : "\nbroker log:\n" + broker.Log()));
            failed = true;
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync();
            }

            TryDelete(dataDirectory);
        }

        // Ingest rows first, each against the baseline at the same concurrency; then latency, baselines, capacity.
        var ordered = new List<ReportRow>();
        ordered.AddRange(options.Agents.Where(ingest.ContainsKey).Select(n => Report.Ingest(ingest[n], baseline.GetValueOrDefault(n))));
        if (latency is not null)
        {
            ordered.Add(Report.Latency(latency, baseline.Values.MaxBy(b => b.Rate)));
        }

        ordered.AddRange(options.Agents.Where(baseline.ContainsKey).Select(n => Report.Baseline(baseline[n])));
        ordered.AddRange(rows);

        var loadAfter = MachineInfo.LoadAverage();
        Console.WriteLine();
        Report.PrintTable(Console.Out, ordered);
        Console.WriteLine($"load average before {loadBefore}, after {loadAfter}");
        if (options.Markdown is { } path)
        {
            Report.WriteMarkdown(path, Report.Markdown(ordered, new RunInfo(started, machine, postgres, loadBefore, loadAfter), options));
            Console.WriteLine($"figures written to {path}");
        }

        return failed ? 1 : 0;
    }

    /// <summary>Runs one scenario; a failed check becomes a FAILED row and false, and the run goes on.</summary>
    private static async Task<bool> AttemptAsync(string id, List<ReportRow> rows, string target, Func<Task> scenario)
    {
        Progress($"{id}: running");
        try
        {
            await scenario();
            return true;
        }
        catch (ScenarioFailedException ex)
        {
            Console.Error.WriteLine($"relay-bench: {id} FAILED its checks: {ex.Message}");
            rows.Add(ReportRow.Failed(id, id, target, ex.Message));
            return false;
        }
    }

    private static async Task<string> DescribePostgresAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand(
            "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('shared_buffers')");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return $"{reader.GetString(0)} (fsync {reader.GetString(1)}, synchronous_commit {reader.GetString(2)}, shared_buffers {reader.GetString(3)})";
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Progress(string line) =>
        Console.Error.WriteLine($"  [{DateTime.UtcNow:HH:mm:ss}] {line}  (load {MachineInfo.LoadAverage()})");

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"relay-bench: could not remove {directory}: {ex.Message}");
        }
    }
}
