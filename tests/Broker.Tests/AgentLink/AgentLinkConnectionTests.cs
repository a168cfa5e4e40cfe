using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Relay.Tests.Shared;

namespace Relay.Broker.Tests.AgentLink;

[Collection(PostgresCollection.Name)]
public sealed class AgentLinkConnectionTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Connect_SecondStreamForSameMachine_ReplacesTheFirstAndRecordsIt()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var first = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var second = first.CloneForSameMachine();
        await first.ConnectAsync(broker, timeout.Token);

        await second.ConnectAsync(broker, timeout.Token);
        var notice = await first.NextAsync(m => m.Notice is not null, timeout.Token);
        var ended = await first.Ended.WaitAsync(timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(second, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Stop"));

        notice.Notice.Code.Should().Be(ErrorCode.ConnectionReplaced);
        notice.Notice.Closing.Should().BeTrue();
        ended!.StatusCode.Should().Be(StatusCode.Aborted);
        var kinds = (await AgentLinkHarness.EventsOfAsync(database, first.MachineId, timeout.Token)).Select(e => e.Kind).ToList();
        kinds.Should().Contain(EventKind.StreamReplaced);
        (await database.ScalarAsync<bool>($"SELECT lease_holder IS NOT NULL FROM agent_link_state WHERE machine_id = '{first.MachineId}'", timeout.Token))
            .Should().BeTrue("the replaced stream's end must not take the machine offline");
    }

    [Fact]
    public async Task Send_MessageNamingAnotherMachinesSession_RejectedWithNoticeAndNothingStored()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var machineA = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var machineB = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await machineA.ConnectAsync(broker, timeout.Token);
        await machineB.ConnectAsync(broker, timeout.Token);
        var claudeIdOfA = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(machineA, timeout.Token, SessionStart(Evidence(claudeIdOfA, pid: 10), SessionStartSource.Startup));
        var sessionOfA = (await AgentLinkHarness.SessionsOfAsync(database, machineA.MachineId, timeout.Token)).Single();

        var byRelayId = Hook(new SessionEvidence { SessionId = sessionOfA.Id.ToString("D"), ClaudeSessionId = Guid.NewGuid().ToString("D") }, "UserPromptSubmit");
        var byClaudeId = Hook(Evidence(claudeIdOfA), "Stop");
        var seq1 = await machineB.SendAsync(byRelayId, timeout.Token);
        var seq2 = await machineB.SendAsync(byClaudeId, timeout.Token);
        await machineB.WaitForAckAsync(seq2, timeout.Token);

        var notices = machineB.Received().Where(m => m.Notice is not null).Select(m => m.Notice).ToList();
        notices.Should().Contain(n => n.Seq == seq1 && n.Code == ErrorCode.PermissionDenied);
        notices.Should().Contain(n => n.Seq == seq2 && n.Code == ErrorCode.PermissionDenied);
        (await AgentLinkHarness.SessionsOfAsync(database, machineB.MachineId, timeout.Token)).Should().BeEmpty();
        (await AgentLinkHarness.EventsOfAsync(database, machineB.MachineId, timeout.Token)).Should().NotContain(e => e.Kind == EventKind.Hook);
        (await AgentLinkHarness.SessionsOfAsync(database, machineA.MachineId, timeout.Token)).Single().Status.Should().Be(sessionOfA.Status);
    }

    [Fact]
    public async Task Send_OversizedAndMalformedMessages_RefusedAloneNeighboursStored()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        await using var broker = await TestBroker.StartAsync(database, new Dictionary<string, string?> { ["AgentLink:MaxMessageBytes"] = "4096" }, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        var welcome = await agent.ConnectAsync(broker, timeout.Token);
        var session = Evidence(Guid.NewGuid());
        var oversized = Hook(session, "PostToolUse");
        oversized.HookEvent.RawJson = "{\"x\":\"" + new string('a', 8000) + "\"}";
        var notAUuid = Hook(new SessionEvidence { ClaudeSessionId = "not-a-uuid" }, "Stop");

        var before = await agent.SendAsync(Hook(session, "UserPromptSubmit"), timeout.Token);
        var big = await agent.SendAsync(oversized, timeout.Token);
        var bad = await agent.SendAsync(notAUuid, timeout.Token);
        var after = await agent.SendAsync(Hook(session, "Stop"), timeout.Token);
        await agent.WaitForAckAsync(after, timeout.Token);

        welcome.MaxMessageBytes.Should().Be(4096);
        var notices = agent.Received().Where(m => m.Notice is not null).Select(m => m.Notice).ToList();
        notices.Should().Contain(n => n.Seq == big && n.Code == ErrorCode.ResourceExhausted && !n.Closing);
        notices.Should().Contain(n => n.Seq == bad && n.Code == ErrorCode.InvalidArgument && n.Message.Contains("claude_session_id"));
        var hooks = (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Where(e => e.Kind == EventKind.Hook).Select(e => e.AgentSeq).ToList();
        hooks.Should().Equal((long)before, (long)after);
    }

    [Fact]
    public async Task Send_SequencedMessageWithoutSeq_EndsStreamWithProtocolNotice()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);

        await agent.WriteAsync(Hook(Evidence(Guid.NewGuid()), "Stop"), timeout.Token); // seq 0
        var ended = await agent.Ended.WaitAsync(timeout.Token);

        ended!.StatusCode.Should().Be(StatusCode.InvalidArgument);
        agent.Received().Should().Contain(m => m.Notice != null && m.Notice.Code == ErrorCode.Protocol && m.Notice.Closing);
    }

    [Fact]
    public async Task Heartbeats_QuietBrokerSendsOne_SilentAgentIsDeclaredDead()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var settings = new Dictionary<string, string?> { ["AgentLink:HeartbeatInterval"] = "00:00:10", ["AgentLink:PeerTimeout"] = "00:00:30" };
        await using var broker = await TestBroker.StartAsync(database, settings, b => b.Services.AddSingleton<TimeProvider>(time), timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var tick = TimeSpan.FromSeconds(2.5);
        await time.WaitForTimerAsync(p => p == tick, timeout.Token);

        time.Advance(TimeSpan.FromSeconds(11));
        var heartbeat = await agent.NextAsync(m => m.Heartbeat is not null, timeout.Token);
        time.Advance(TimeSpan.FromSeconds(20));
        var ended = await agent.Ended.WaitAsync(timeout.Token);

        heartbeat.Seq.Should().Be(0);
        ended!.StatusCode.Should().Be(StatusCode.Unavailable);
        agent.Received().Should().Contain(m => m.Notice != null && m.Notice.Code == ErrorCode.Timeout && m.Notice.Closing);
        (await database.ScalarAsync<bool>($"SELECT lease_holder IS NULL FROM agent_link_state WHERE machine_id = '{agent.MachineId}'", timeout.Token))
            .Should().BeTrue("a dead agent's machine is offline");
        (await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token)).Should().Contain(e => e.Kind == EventKind.AgentDisconnected);
    }

    [Fact]
    public async Task Heartbeats_AgentKeepsTalking_StreamStaysUp()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var settings = new Dictionary<string, string?> { ["AgentLink:HeartbeatInterval"] = "00:00:10", ["AgentLink:PeerTimeout"] = "00:00:30" };
        await using var broker = await TestBroker.StartAsync(database, settings, b => b.Services.AddSingleton<TimeProvider>(time), timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        await time.WaitForTimerAsync(p => p == TimeSpan.FromSeconds(2.5), timeout.Token);

        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(20));
            // A sequenced message proves the broker heard it (the ack comes after the read that refreshed liveness).
            await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Notification"));
        }

        agent.Ended.IsCompleted.Should().BeFalse("100 s passed, but the agent never stayed quiet for 30 s");
    }

    [Fact]
    public async Task BrokerShutdown_AgentToldShuttingDownThenUnavailable()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<AgentLinkConnectionTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(Guid.NewGuid()), "Stop"));

        await broker.StopAsync(timeout.Token);
        var ended = await agent.Ended.WaitAsync(timeout.Token);

        ended!.StatusCode.Should().Be(StatusCode.Unavailable, ended.Status.Detail + " / " + string.Join(",", agent.Received().Select(m => m.BodyCase)));
        var notice = agent.Received().Single(m => m.Notice is not null).Notice;
        notice.Code.Should().Be(ErrorCode.ShuttingDown);
        notice.Closing.Should().BeTrue();
        notice.RetryAfter.Should().NotBeNull();
    }
}
