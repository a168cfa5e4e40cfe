using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Relay.Broker.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using Relay.Tests.Shared;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>What an idle stream costs: the broker heartbeats only when it was quiet, and takes agent heartbeats on the reader.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AgentLinkHeartbeatTests(PostgresFixture postgres)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["AgentLink:HeartbeatInterval"] = "00:00:10",
        ["AgentLink:PeerTimeout"] = "00:00:30",
    };

    [Fact]
    public async Task Heartbeat_BrokerSentSomethingRecently_NoneUntilAnIntervalOfSilence()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHeartbeatTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await TestBroker.StartAsync(database, Settings, b => b.Services.AddSingleton<TimeProvider>(time), timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var tick = TimeSpan.FromSeconds(2.5);
        await time.WaitForTimerAsync(p => p == tick, timeout.Token);

        // The Welcome went out at 0 s and an Ack at 8 s. The sweeper ticks every 2.5 s: at 15 s the broker has been quiet
        // for 7 s only (15 s since the Welcome), so nothing is due yet.
        time.Advance(TimeSpan.FromSeconds(8));
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Stop"));
        var ackedAt = time.GetUtcNow();
        time.Advance(TimeSpan.FromSeconds(7));
        // The tick at 20 s finds it quiet for 12 s: a heartbeat is due.
        time.Advance(TimeSpan.FromSeconds(6));
        var heartbeat = await agent.NextAsync(m => m.Heartbeat is not null, timeout.Token);

        // The stream keeps order: a heartbeat sent at 15 s would have arrived before this one.
        heartbeat.Heartbeat.SentAt.ToDateTimeOffset().Should().BeOnOrAfter(ackedAt + TimeSpan.FromSeconds(10),
            "the broker heartbeats after an interval without sending anything, not an interval after the Welcome");
        agent.Received().Count(m => m.Heartbeat is not null).Should().Be(1);
    }

    [Fact]
    public async Task Heartbeat_WhileTheStreamsBatchWaitsOnTheDatabase_StatsAreTakenAtOnce()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkHeartbeatTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var connection = broker.Services.GetRequiredService<AgentConnectionRegistry>().Find(agent.MachineId)!;

        // The batch's fence locks the machine's agent_link_state row: while another transaction holds it, the hook waits.
        await using var holder = await database.DataSource.OpenConnectionAsync(timeout.Token);
        await using var transaction = await holder.BeginTransactionAsync(timeout.Token);
        await using (var take = new NpgsqlCommand("SELECT 1 FROM agent_link_state WHERE machine_id = $1 FOR UPDATE", holder, transaction))
        {
            take.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = agent.MachineId });
            await take.ExecuteNonQueryAsync(timeout.Token);
        }

        var hook = await agent.SendAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token);
        await agent.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { Stats = new AgentStats { LiveSessions = 4 } } }, timeout.Token);
        var seen = await StatsAsync(connection, TimeSpan.FromSeconds(20), timeout.Token);
        var ackedMeanwhile = agent.BrokerAck >= hook;
        await transaction.RollbackAsync(timeout.Token);
        await agent.WaitForAckAsync(hook, timeout.Token);

        seen.Should().NotBeNull("a heartbeat is not queued behind the stream's pending batch");
        seen!.LiveSessions.Should().Be(4);
        ackedMeanwhile.Should().BeFalse("the hook was still waiting on the lock when the heartbeat's statistics were taken");
    }

    /// <summary>The connection's statistics once set; polled (no signal exists for them), bounded by <paramref name="within"/>.</summary>
    private static async Task<AgentStats?> StatsAsync(AgentConnection connection, TimeSpan within, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (connection.LastStats is null && clock.Elapsed < within)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
        }

        return connection.LastStats;
    }
}
