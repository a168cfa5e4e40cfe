using System.Diagnostics;
using Npgsql;
using Relay.Broker.Tests.Infrastructure;
using Xunit.Abstractions;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// Not a timed assertion: prints ingest throughput and ack latency for simulated agents streaming hook events, and checks
/// that every event is stored exactly once and that each ack comes after its events committed. A small load by default;
/// <c>RELAY_MEASURE=1</c> runs the full one (see <see cref="MeasureLoad"/>).
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "Measure")]
public sealed class IngestMeasureTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private const int AckSampleEvery = 50;

    [Fact]
    public async Task Measure_AgentsStreamingHookEvents_EveryEventStoredOnceAndAckedAfterCommit()
    {
        var agentCount = MeasureLoad.Pick(quick: 4, full: 10);
        var eventsPerAgent = MeasureLoad.Pick(quick: 250, full: 2000);
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<IngestMeasureTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var agents = new List<SimulatedAgent>();
        for (var i = 0; i < agentCount; i++)
        {
            var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
            await agent.ConnectAsync(broker, timeout.Token);
            agents.Add(agent);
        }

        var latencies = new List<double>();
        var notCommittedAtAck = new List<string>();
        using var counts = new IngestCounts();
        var checks = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(agents.Select(agent => Task.Run(async () =>
        {
            var session = Evidence(Guid.NewGuid(), pid: Random.Shared.Next(1000, 60000));
            var local = new List<double>();
            for (var i = 0; i < eventsPerAgent; i++)
            {
                var sent = Stopwatch.GetTimestamp();
                var seq = await agent.SendAsync(Hook(session, i % 2 == 0 ? "PreToolUse" : "PostToolUse", f => f.ToolName = "Bash"), timeout.Token);
                if (i % AckSampleEvery == 0)
                {
                    // Sample the ack latency of one event in fifty (waiting on each would measure lock-step, not streaming),
                    // then check that what the ack covers is in the database already.
                    await agent.WaitForAckAsync(seq, timeout.Token);
                    local.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                    await CheckCommittedAsync(database, agent, seq, notCommittedAtAck, timeout.Token);
                    Interlocked.Increment(ref checks);
                }
            }

            await agent.WaitForAckAsync((ulong)eventsPerAgent, timeout.Token);
            await CheckCommittedAsync(database, agent, (ulong)eventsPerAgent, notCommittedAtAck, timeout.Token);
            Interlocked.Increment(ref checks);
            lock (latencies)
            {
                latencies.AddRange(local);
            }
        }, timeout.Token)));
        clock.Stop();

        latencies.Sort();
        var total = agentCount * eventsPerAgent;
        output.WriteLine($"ingest, {MeasureLoad.Mode}: {agentCount} agents x {eventsPerAgent} hook events = {total} in {clock.Elapsed.TotalSeconds:F2} s: " +
                         $"{total / clock.Elapsed.TotalSeconds:F0} events/s committed and acked");
        output.WriteLine($"ack latency (sampled, n={latencies.Count}): p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F1} ms, max {latencies[^1]:F1} ms");
        // The test's own checks are one command each; COMMITs are not counted by Npgsql's metric.
        var (commands, batches, batchSeconds) = counts.Read();
        commands -= Volatile.Read(ref checks);
        output.WriteLine($"database: {batches} batches stored ({(double)total / Math.Max(1, batches):F1} events each), {commands} commands besides COMMIT " +
                         $"({(double)commands / Math.Max(1, batches):F2} per batch), {1000 * batchSeconds / Math.Max(1, batches):F2} ms per batch's transaction on average");
        notCommittedAtAck.Should().BeEmpty("the broker acks only after the transaction that stored the events committed");
        var machineIds = agents.Select(a => a.MachineId).ToArray();
        await using (var command = database.DataSource.CreateCommand(
            "SELECT count(*), count(DISTINCT (machine_id, agent_event_id)), count(DISTINCT (machine_id, agent_seq)) FROM events WHERE kind = 'hook' AND machine_id = ANY($1)"))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machineIds });
            await using var reader = await command.ExecuteReaderAsync(timeout.Token);
            await reader.ReadAsync(timeout.Token);
            (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)).Should().Be((total, total, total), "every event is stored exactly once");
        }

        foreach (var agent in agents)
        {
            await agent.DisposeAsync();
        }
    }

    [Fact]
    public async Task Measure_AckLatencyOfOneEventAtATime_EachAckAfterItsCommit()
    {
        var count = MeasureLoad.Pick(quick: 60, full: 300);
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<IngestMeasureTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 4321);
        var latencies = new List<double>();
        var notCommittedAtAck = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var sent = Stopwatch.GetTimestamp();
            var seq = await agent.SendAsync(Hook(session, "PreToolUse", f => f.ToolName = "Bash"), timeout.Token);
            await agent.WaitForAckAsync(seq, timeout.Token);
            latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            await CheckCommittedAsync(database, agent, seq, notCommittedAtAck, timeout.Token);
        }

        latencies.Sort();
        output.WriteLine($"one event at a time, {MeasureLoad.Mode}, n={count}: ack latency p50 {latencies[latencies.Count / 2]:F2} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms");
        notCommittedAtAck.Should().BeEmpty();
        (await database.ScalarAsync<long>($"SELECT count(*) FROM events WHERE kind = 'hook' AND machine_id = '{agent.MachineId}'", timeout.Token)).Should().Be(count);
    }

    /// <summary>Every hook event the ack of <paramref name="seq"/> covers is in the database (the agent's seqs are all hook events here).</summary>
    private static async Task CheckCommittedAsync(TestDatabase database, SimulatedAgent agent, ulong seq, List<string> problems, CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("SELECT count(*) FROM events WHERE kind = 'hook' AND machine_id = $1 AND agent_seq <= $2");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = agent.MachineId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)seq });
        var stored = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (stored != (long)seq)
        {
            lock (problems)
            {
                problems.Add($"{agent.MachineName}: acked seq {seq} with {stored} of its events stored");
            }
        }
    }
}

/// <summary>
/// Counts, in this process, the database commands Npgsql executes (each one round trip; COMMIT is not among them) and
/// the inbound batches the broker stores with the time of their transactions.
/// </summary>
internal sealed class IngestCounts : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private long _commands;
    private long _batches;
    private double _batchSeconds;

    public IngestCounts()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name is "db.client.operation.duration" or "relay.broker.ingest.batch.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "db.client.operation.duration")
            {
                Interlocked.Increment(ref _commands);
                return;
            }

            lock (_listener)
            {
                _batches++;
                _batchSeconds += value;
            }
        });
        _listener.Start();
    }

    public (long Commands, long Batches, double BatchSeconds) Read()
    {
        lock (_listener)
        {
            return (Interlocked.Read(ref _commands), _batches, _batchSeconds);
        }
    }

    public void Dispose() => _listener.Dispose();
}
