using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Tests.AgentLink;

[Collection(PostgresCollection.Name)]
public sealed class AgentLinkIngestTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Send_HookEvents_AckedAfterCommitAndStoredOnce()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkIngestTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 4242);

        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            SessionStart(session, SessionStartSource.Startup), Hook(session, "UserPromptSubmit"), Hook(session, "PreToolUse", f => f.ToolName = "Bash"));

        var events = (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook).ToList();
        events.Select(e => e.AgentSeq).Should().Equal(1, 2, 3);
        events.Select(e => e.HookEventName).Should().Equal("SessionStart", "UserPromptSubmit", "PreToolUse");
        events.Should().OnlyContain(e => e.RelaySessionId != null);
        (await database.ScalarAsync<long>($"SELECT last_inbound_seq FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token)).Should().Be(3);
    }

    [Fact]
    public async Task Reconnect_RetransmittedEvents_StoredOnceAndResumedFromCommittedPosition()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkIngestTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 7);
        var first = SessionStart(session, SessionStartSource.Startup);
        var second = Hook(session, "UserPromptSubmit");
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, first, second);

        // The agent lost its position (say its ack file was older): it resends 1 and 2 with their seqs, then 3.
        await agent.AbortAsync();
        var welcome = await agent.ConnectAsync(broker, timeout.Token, retransmit: false);
        await agent.WriteAsync(first, timeout.Token);
        await agent.WriteAsync(second, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(session, "Stop"));

        welcome.LastAgentSeq.Should().Be(2);
        var hooks = (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook).ToList();
        hooks.Select(e => e.AgentSeq).Should().Equal(1, 2, 3);
        agent.BrokerAck.Should().Be(3);
    }

    [Fact]
    public async Task NewSpoolEpoch_SameEventIds_StoredOnceByEventId()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkIngestTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var hook = Hook(Evidence(Guid.NewGuid()), "PreToolUse");
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, hook);

        // A spool rebuilt from scratch restarts its seqs; the event id is the second line of deduplication.
        await agent.AbortAsync();
        agent.SpoolEpoch = Guid.NewGuid().ToString("N");
        var welcome = await agent.ConnectAsync(broker, timeout.Token);
        var again = hook.Clone();
        again.Seq = 0;
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, again);

        welcome.LastAgentSeq.Should().Be(0);
        (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Count(e => e.Kind == EventKind.Hook).Should().Be(1);
    }

    [Fact]
    public async Task BrokerDiesBetweenStoreAndCommit_NothingAckedIsMissingAndTheRestIsResent()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkIngestTests>();
        var gate = new CommitGate();
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 99);
        await using (var broker = await TestBroker.StartAsync(database, configure: b => b.Services.AddSingleton<IInboundBatchObserver>(gate), cancellationToken: timeout.Token))
        {
            await agent.ConnectAsync(broker, timeout.Token);
            await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(session, SessionStartSource.Startup), Hook(session, "UserPromptSubmit"));

            gate.Arm();
            var held = await agent.SendAsync(Hook(session, "PreToolUse", f => f.ToolName = "Bash"), timeout.Token);
            (await gate.Reached.WaitAsync(timeout.Token)).Should().Be((long)held);
            gate.Kill();
            var ended = await agent.Ended.WaitAsync(timeout.Token);

            ended!.StatusCode.Should().Be(StatusCode.Unavailable);
            agent.BrokerAck.Should().Be(2, "seq 3 was stored but never committed, so it must not be acked");
        }

        (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Should().NotContain(e => e.AgentSeq == 3);

        await using var restarted = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var welcome = await agent.ConnectAsync(restarted, timeout.Token);
        await agent.WaitForAckAsync(3, timeout.Token);

        welcome.LastAgentSeq.Should().Be(2);
        var hooks = (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook).ToList();
        hooks.Select(e => e.AgentSeq).Should().Equal(1, 2, 3);
    }

    [Fact]
    public async Task BrokerStopsWhileAgentStreams_EveryAckedEventIsStored()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkIngestTests>();
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        var session = Evidence(Guid.NewGuid(), pid: 5);
        await using (var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token))
        {
            await agent.ConnectAsync(broker, timeout.Token);
            var sending = Task.Run(async () =>
            {
                try
                {
                    for (var i = 0; i < 400; i++)
                    {
                        await agent.SendAsync(Hook(session, "PostToolUse", f => f.ToolName = "Read"), timeout.Token);
                    }
                }
                catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
                {
                    // The broker went away mid-stream, as intended.
                }
            });
            await agent.WaitForAckAsync(50, timeout.Token);
            await broker.StopAsync(timeout.Token);
            await sending;
        }

        var acked = agent.BrokerAck;
        await using var db = database.CreateContext();
        var stored = await db.Events.Where(e => e.MachineId == agent.MachineId && e.Kind == EventKind.Hook).Select(e => e.AgentSeq).ToListAsync(timeout.Token);
        acked.Should().BeGreaterThanOrEqualTo(50);
        stored.Where(s => s <= (long)acked).Should().HaveCount((int)acked, "every acked seq must be committed");
        stored.Should().OnlyHaveUniqueItems();
    }
}
