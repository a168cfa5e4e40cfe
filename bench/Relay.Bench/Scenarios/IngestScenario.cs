using System.Diagnostics;
using Npgsql;
using Relay.Bench.Agents;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>
/// Simulated agents stream hook events to the broker (saturating their receive windows, or paced at a fixed total
/// rate); the figure is events acked per second (the broker acks only after commit) and the send-to-ack latency.
/// Afterwards every event must be acked and stored exactly once.
/// </summary>
internal static class IngestScenario
{
    private const int ConnectConcurrency = 16;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);

    public static async Task<Throughput> RunAsync(
        BrokerProcess broker, int agents, double? rate, TimeSpan warmup, TimeSpan duration, string prefix, CancellationToken cancellationToken, string? ackTrace = null)
    {
        var machines = await Enrolment.EnrollAsync(broker.Address, broker.AdminToken, prefix, agents, cancellationToken);
        var load = machines.Select((m, i) => new LoadAgent(m, broker.Address, i)).ToList();
        try
        {
            await Parallel.ForEachAsync(load, new ParallelOptions { MaxDegreeOfParallelism = ConnectConcurrency, CancellationToken = cancellationToken },
                async (agent, token) => await agent.ConnectAsync(token));

            using var stop = new CancellationTokenSource();
            var senders = load.Select(a => Task.Run(() => rate is { } r ? a.PaceAsync(r / agents, stop.Token) : a.SaturateAsync(stop.Token), CancellationToken.None)).ToList();
            await Task.Delay(warmup, cancellationToken);

            load.ForEach(a => a.Recording = true);
            var acked = load.Sum(a => a.HooksAcked);
            var cpu = ProcessStats.CpuSeconds(broker.Pid);
            var pg = broker.PostgresPid is { } pid ? ProcessStats.CpuSecondsWithChildren(pid) : (double?)null;
            var commits = await CommitsAsync(broker, cancellationToken);
            var clock = Stopwatch.StartNew();
            await Task.Delay(duration, cancellationToken);
            commits = await CommitsAsync(broker, cancellationToken) - commits;
            var events = load.Sum(a => a.HooksAcked) - acked;
            var seconds = clock.Elapsed.TotalSeconds;
            var cpuUsed = ProcessStats.CpuSeconds(broker.Pid) - cpu;
            var pgUsed = broker.PostgresPid is { } pid2 && pg is { } p ? ProcessStats.CpuSecondsWithChildren(pid2) - p : (double?)null;
            load.ForEach(a => a.Recording = false);

            await stop.CancelAsync();
            await Task.WhenAll(senders);
            var drained = await Task.WhenAll(load.Select(a => a.DrainAsync(DrainTimeout)));
            await CheckAsync(broker, load, drained, cancellationToken);

            var acks = load.Select(a => a.Acks()).ToList();
            if (ackTrace is not null)
            {
                await AckTrace.WriteAsync(ackTrace, acks, cancellationToken);
            }

            var latencies = acks.SelectMany(a => a.Select(x => x.Latency)).ToArray();
            Array.Sort(latencies);
            return new Throughput(agents, events, seconds, latencies, cpuUsed, pgUsed, rate, commits);
        }
        finally
        {
            await Task.WhenAll(load.Select(a => a.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Transactions committed in the broker's database so far (PostgreSQL's statistics, flushed about once a second).</summary>
    internal static async Task<long> CommitsAsync(BrokerProcess broker, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(broker.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        return await command.ExecuteScalarAsync(cancellationToken) is long n ? n : 0;
    }

    /// <summary>Every event acked, and the database holds exactly the events sent: none lost, none twice.</summary>
    private static async Task CheckAsync(BrokerProcess broker, List<LoadAgent> load, bool[] drained, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        for (var i = 0; i < load.Count; i++)
        {
            if (load[i].Failure is { } failure)
            {
                problems.Add(failure);
            }
            else if (!drained[i])
            {
                problems.Add($"{load[i].Machine.Name}: {load[i].HooksSent - load[i].HooksAcked} of {load[i].HooksSent} events not acked within {DrainTimeout.TotalSeconds:0} s");
            }
        }

        var sent = load.Sum(a => a.HooksSent);
        await using var dataSource = NpgsqlDataSource.Create(broker.ConnectionString);
        await using var command = dataSource.CreateCommand("""
            SELECT count(*), count(DISTINCT (machine_id, agent_event_id)), count(DISTINCT (machine_id, agent_seq))
            FROM events WHERE kind = 'hook' AND machine_id = ANY($1)
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = load.Select(a => a.Machine.Id).ToArray() });
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            var (rows, ids, seqs) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            if (rows != sent || ids != sent || seqs != sent)
            {
                problems.Add($"the database holds {rows} hook events ({ids} distinct event ids, {seqs} distinct seqs) of the {sent} sent");
            }
        }

        if (problems.Count > 0)
        {
            throw new ScenarioFailedException(string.Join("; ", problems.Take(5)) + (problems.Count > 5 ? $" (and {problems.Count - 5} more)" : string.Empty));
        }
    }
}
