using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.AgentLink;
using Relay.Broker.Delivery;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using Relay.Tests.Shared;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>The replica-wide lease renewal and missed-work sweep that replaced one transaction per idle stream.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PresenceSweeperTests(PostgresFixture postgres)
{
    [Fact]
    public async Task RenewAsync_LiveStreams_ExtendLeasesAndStoreChangedStatsOnce()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PresenceSweeperTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await TestBroker.StartAsync(database, null, b => b.Services.AddSingleton<TimeProvider>(time), timeout.Token);
        await using var one = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var two = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await one.ConnectAsync(broker, timeout.Token);
        await two.ConnectAsync(broker, timeout.Token);
        // The heartbeat is read before the hook behind it is committed and acked.
        await one.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { Stats = new AgentStats { LiveSessions = 3, QueuedPrompts = 2 } } }, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(one, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Stop"));
        var sweeper = broker.Services.GetRequiredService<PresenceSweeper>();

        // Less than the peer timeout (45 s): the streams stay up.
        time.Advance(TimeSpan.FromSeconds(20));
        await sweeper.RenewAsync(timeout.Token);
        await database.ExecuteAsync($"UPDATE machines SET agent_stats = NULL WHERE id = '{one.MachineId}'", timeout.Token);
        await sweeper.RenewAsync(timeout.Token);

        var expected = time.GetUtcNow() + TimeSpan.FromSeconds(90);
        foreach (var agent in new[] { one, two })
        {
            var lease = await database.ScalarAsync<DateTime>($"SELECT lease_expires_at FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token);
            var seen = await database.ScalarAsync<DateTime>($"SELECT last_seen_at FROM machines WHERE id = '{agent.MachineId}'", timeout.Token);
            lease.Should().BeCloseTo(expected.UtcDateTime, TimeSpan.FromMilliseconds(1));
            seen.Should().BeCloseTo(time.GetUtcNow().UtcDateTime, TimeSpan.FromMilliseconds(1));
        }

        (await database.ScalarAsync<string>($"SELECT agent_stats::text FROM machines WHERE id = '{one.MachineId}'", timeout.Token))
            .Should().BeNull("unchanged statistics are written once, not on every renewal");
    }

    [Fact]
    public async Task RenewAsync_StatsOfTheFirstRenewal_AreStored()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PresenceSweeperTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        await agent.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { Stats = new AgentStats { LiveSessions = 3 } } }, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Stop"));

        await broker.Services.GetRequiredService<PresenceSweeper>().RenewAsync(timeout.Token);

        (await database.ScalarAsync<long>($"SELECT (agent_stats->>'liveSessions')::bigint FROM machines WHERE id = '{agent.MachineId}'", timeout.Token))
            .Should().Be(3);
    }

    [Fact]
    public async Task RenewAsync_ConnectionReplacedByAnotherStream_RenewsNothing()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PresenceSweeperTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var before = await database.ScalarAsync<DateTime>($"SELECT lease_expires_at FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token);

        // A stale connection id: the stream that held it was replaced (here or on another replica).
        await broker.Services.GetRequiredService<LinkStateStore>()
            .RenewAsync([new LeaseRenewal(agent.MachineId, Guid.NewGuid(), "{\"liveSessions\":9}")], timeout.Token);

        (await database.ScalarAsync<DateTime>($"SELECT lease_expires_at FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token))
            .Should().Be(before);
        (await database.ScalarAsync<string>($"SELECT agent_stats::text FROM machines WHERE id = '{agent.MachineId}'", timeout.Token)).Should().BeNull();
    }

    [Fact]
    public async Task WakeMissedAsync_WorkQueuedWithoutSignal_ReachesTheAgent()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PresenceSweeperTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var idle = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await idle.ConnectAsync(broker, timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var status = new BrokerMessage { SessionMessageStatus = new SessionMessageStatus { MessageId = Guid.NewGuid().ToString("D") } };
        await using (var db = database.CreateContext())
        {
            // As another replica would queue it: this replica's signals never hear of it.
            OutboxStore.Append(db, agent.MachineId, OutboxKind.SessionMessageStatus, null, status, DateTimeOffset.UtcNow);
            await db.SaveChangesAsync(timeout.Token);
        }

        var sweeper = broker.Services.GetRequiredService<PresenceSweeper>();
        var found = await broker.Services.GetRequiredService<OutboxFiller>().MachinesWithWorkAsync([idle.MachineId, agent.MachineId], timeout.Token);
        await sweeper.WakeMissedAsync(timeout.Token);
        var delivered = await agent.NextAsync(m => m.SessionMessageStatus is not null, timeout.Token);

        found.Should().Equal(agent.MachineId);
        delivered.SessionMessageStatus.MessageId.Should().Be(status.SessionMessageStatus.MessageId);
        delivered.Seq.Should().BeGreaterThan(0);
    }
}
