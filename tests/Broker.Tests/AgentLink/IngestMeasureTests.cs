using System.Diagnostics;
using Relay.Broker.Tests.Infrastructure;
using Xunit.Abstractions;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// Not a timed assertion: prints ingest throughput and ack latency for ten simulated agents streaming hook events.
/// Run with <c>dotnet test tests/Broker.Tests --filter Category=Measure --logger "console;verbosity=detailed"</c>.
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "Measure")]
public sealed class IngestMeasureTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private const int Agents = 10;
    private const int EventsPerAgent = 2000;

    [Fact]
    public async Task Measure_TenAgentsStreamingHookEvents()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<IngestMeasureTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var agents = new List<SimulatedAgent>();
        for (var i = 0; i < Agents; i++)
        {
            var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
            await agent.ConnectAsync(broker, timeout.Token);
            agents.Add(agent);
        }

        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(agents.Select(agent => Task.Run(async () =>
        {
            var session = Evidence(Guid.NewGuid(), pid: Random.Shared.Next(1000, 60000));
            var local = new List<double>();
            for (var i = 0; i < EventsPerAgent; i++)
            {
                var sent = Stopwatch.GetTimestamp();
                var seq = await agent.SendAsync(Hook(session, i % 2 == 0 ? "PreToolUse" : "PostToolUse", f => f.ToolName = "Bash"), timeout.Token);
                if (i % 50 == 0)
                {
                    // Sample the ack latency of one event in fifty (waiting on each would measure lock-step, not streaming).
                    await agent.WaitForAckAsync(seq, timeout.Token);
                    local.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                }
            }

            await agent.WaitForAckAsync(EventsPerAgent, timeout.Token);
            lock (latencies)
            {
                latencies.AddRange(local);
            }
        }, timeout.Token)));
        clock.Stop();

        latencies.Sort();
        var total = Agents * EventsPerAgent;
        output.WriteLine($"{Agents} agents x {EventsPerAgent} hook events = {total} in {clock.Elapsed.TotalSeconds:F2} s: {total / clock.Elapsed.TotalSeconds:F0} events/s committed and acked");
        output.WriteLine($"ack latency (sampled, n={latencies.Count}): p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F1} ms, max {latencies[^1]:F1} ms");
        (await database.ScalarAsync<long>("SELECT count(*) FROM events WHERE kind = 'hook'", timeout.Token)).Should().BeGreaterThanOrEqualTo(total);
        foreach (var agent in agents)
        {
            await agent.DisposeAsync();
        }
    }

    [Fact]
    public async Task Measure_AckLatencyOfOneEventAtATime()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<IngestMeasureTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 4321);
        var latencies = new List<double>();
        for (var i = 0; i < 300; i++)
        {
            var sent = Stopwatch.GetTimestamp();
            await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(session, "PreToolUse", f => f.ToolName = "Bash"));
            latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
        }

        latencies.Sort();
        output.WriteLine($"one event at a time: ack latency p50 {latencies[latencies.Count / 2]:F2} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms");
        latencies.Should().HaveCount(300);
    }
}
