using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Prompts;
using Relay.Protocol.V1;
using Relay.Tests.Shared;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>AgentLink:AckLinger: an agent's Ack that arrives alone rides in the next batch's transaction.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AckLingerTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private const int MaxProbes = 5_000;

    [Fact]
    public async Task AckAlone_BatchFollowsWithinTheLinger_RecordedWithThatBatch()
    {
        using var timeout = TestTimeout.Start();
        await using var setup = await StartAsync(timeout.Token);
        var (agent, time, database) = (setup.Agent, setup.Time, setup.Database);

        await agent.AckAsync(setup.Delivery.Seq, timeout.Token);
        await time.WaitForTimerAsync((due, _) => due == Linger, timeout.Token);
        var whileLingering = await OutboxRowsAsync(database, agent, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(setup.ClaudeId), "Stop"));

        whileLingering.Should().Be(1, "an ack alone waits for the next batch instead of a transaction of its own");
        (await OutboxRowsAsync(database, agent, timeout.Token)).Should().Be(0, "the batch that followed recorded the ack");
        (await database.ScalarAsync<long>($"SELECT last_outbound_seq_acked FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token))
            .Should().Be((long)setup.Delivery.Seq);
        setup.Logs.Entries.Should().Contain(
            e => e.Category == "Npgsql.Command" && e.Message.Contains("INSERT INTO events") && e.Message.Contains("DELETE FROM agent_outbox"),
            "the acknowledgement rides in the batch's last round trip, not in one of its own under the event-order lock");
    }

    [Fact]
    public async Task AckAlone_NothingFollows_RecordedAloneWhenTheLingerEnds()
    {
        using var timeout = TestTimeout.Start();
        await using var setup = await StartAsync(timeout.Token);
        var (agent, time, database) = (setup.Agent, setup.Time, setup.Database);

        await agent.AckAsync(setup.Delivery.Seq, timeout.Token);
        await time.WaitForTimerAsync((due, _) => due == Linger, timeout.Token);
        time.Advance(Linger);
        var rows = -1L;
        for (var probe = 0; probe < MaxProbes && rows != 0; probe++)
        {
            timeout.Token.ThrowIfCancellationRequested();
            rows = await OutboxRowsAsync(database, agent, timeout.Token);
        }

        rows.Should().Be(0, "an ack nothing follows is recorded on its own once the linger is over");
    }

    private static Task<long> OutboxRowsAsync(TestDatabase database, SimulatedAgent agent, CancellationToken cancellationToken) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM agent_outbox WHERE machine_id = '{agent.MachineId}'", cancellationToken);

    private async Task<Setup> StartAsync(CancellationToken cancellationToken)
    {
        var database = await postgres.DatabaseFor<AckLingerTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var settings = new Dictionary<string, string?> { ["AgentLink:AckLinger"] = "00:00:00.050" };
        var logs = new CapturingLoggerProvider();
        var broker = await TestBroker.StartAsync(database, settings, b =>
        {
            b.Services.AddSingleton<TimeProvider>(time);
            SendPromptLockTests.CaptureNpgsql(b, logs);
        }, cancellationToken);
        var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: cancellationToken);
        await agent.ConnectAsync(broker, cancellationToken);
        agent.AutoAck = false;
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid: 77), SessionStartSource.Startup));
        await using (var db = database.CreateContext())
        {
            var session = await db.Sessions.AsNoTracking().SingleAsync(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id), cancellationToken);
            var now = time.GetUtcNow();
            db.Prompts.Add(new Db.Prompt
            {
                Id = Guid.NewGuid(), IdempotencyKey = Guid.NewGuid().ToString("D"), RelaySessionId = session.Id, SenderKind = Db.SenderKind.Person,
                SenderId = Guid.NewGuid().ToString("D"), SenderName = "alice", Text = "ack me", Status = Db.PromptStatus.Queued,
                CreatedAt = now, ExpiresAt = now.AddHours(1),
            });
            await db.SaveChangesAsync(cancellationToken);
        }

        AgentLinkHarness.Notify(broker, agent.MachineId);
        var delivery = await agent.NextAsync(m => m.PromptDelivery is not null, cancellationToken);
        return new Setup(broker, agent, time, database, claudeId, delivery, logs);
    }

    private sealed record Setup(
        TestBroker Broker, SimulatedAgent Agent, ManualTimeProvider Time, TestDatabase Database, Guid ClaudeId, BrokerMessage Delivery, CapturingLoggerProvider Logs)
        : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Broker.DisposeAsync();
        }
    }
}
