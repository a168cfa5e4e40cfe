using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>RevokeMachine while the machine's agent is connected.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MachineRevocationTests(PostgresFixture postgres)
{
    [Fact]
    public async Task RevokeMachine_WhileStreaming_StreamEndsUnauthenticatedAndSessionsEndMachineRevokedWithEvents()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<MachineRevocationTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var (_, secret) = await AccessSeed.TokenAsync(database, Role.Admin, cancellationToken: timeout.Token);
        var admin = broker.Admin(secret);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            SessionStart(Evidence(Guid.NewGuid(), pid: 101), SessionStartSource.Startup),
            SessionStart(Evidence(Guid.NewGuid(), pid: 102), SessionStartSource.Startup));
        var sessions = await AgentLinkHarness.SessionsOfAsync(database, agent.MachineId, timeout.Token);
        var prompt = await QueuePromptAsync(database, sessions[0], timeout.Token);

        await admin.RevokeMachineAsync(new RevokeMachineRequest { Machine = agent.MachineName, Reason = "laptop stolen" }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var ended = await agent.Ended.WaitAsync(timeout.Token);
        var refused = await ConnectAgainAsync(broker, agent, timeout.Token);

        ended.Should().NotBeNull();
        ended!.StatusCode.Should().Be(StatusCode.Unauthenticated);
        ended.Status.Detail.Should().Contain($"Machine '{agent.MachineName}' was revoked").And.Contain("enrol");
        refused.StatusCode.Should().Be(StatusCode.Unauthenticated, "a revoked credential cannot open a new stream");
        agent.Received().Should().Contain(m => m.Notice != null && m.Notice.Closing && m.Notice.Code == ErrorCode.PermissionDenied);
        var after = await AgentLinkHarness.SessionsOfAsync(database, agent.MachineId, timeout.Token);
        after.Should().HaveCount(2).And.AllSatisfy(s =>
        {
            s.Status.Should().Be(Db.SessionStatus.Ended);
            s.EndReason.Should().Be("machine_revoked");
        });
        var events = await AgentLinkHarness.EventsOfAsync(database, agent.MachineId, timeout.Token);
        var endedEvents = events.Where(e => e.Kind == EventKind.SessionEnded).ToList();
        endedEvents.Select(e => e.RelaySessionId).Should().BeEquivalentTo(sessions.Select(s => (Guid?)s.Id));
        endedEvents.Should().AllSatisfy(e => e.Payload.Should().Contain("SESSION_END_REASON_MACHINE_REVOKED"));
        events.Should().Contain(e => e.Kind == EventKind.AgentDisconnected);
        await using var db = database.CreateContext();
        var failed = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == prompt.Id, timeout.Token);
        failed.Status.Should().Be(Db.PromptStatus.Failed, "nobody is left to deliver it to");
    }

    private static async Task<RpcException> ConnectAgainAsync(TestBroker broker, SimulatedAgent agent, CancellationToken cancellationToken)
    {
        var client = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel(agent.Credential));
        using var call = client.ConnectAsync(cancellationToken: cancellationToken);
        try
        {
            await call.RequestStream.WriteAsync(new AgentMessage { Hello = new Hello { MachineId = agent.MachineId.ToString("D"), SpoolEpoch = agent.SpoolEpoch } }, cancellationToken);
            await call.ResponseStream.MoveNext(cancellationToken);
        }
        catch (RpcException ex)
        {
            return ex;
        }

        throw new InvalidOperationException("The broker accepted a revoked machine's stream.");
    }

    private static async Task<Db.Prompt> QueuePromptAsync(TestDatabase database, RelaySession session, CancellationToken cancellationToken)
    {
        // Queued (or sent, if the stream picks it up first): either way it fails when its session ends.
        var prompt = new Db.Prompt
        {
            Id = Guid.NewGuid(), IdempotencyKey = Guid.NewGuid().ToString("D"), RelaySessionId = session.Id, SenderKind = SenderKind.Person,
            SenderId = Guid.NewGuid().ToString("D"), SenderName = "alice", Text = "still there?", Status = Db.PromptStatus.Queued,
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
        };
        await using var db = database.CreateContext();
        db.Prompts.Add(prompt);
        await db.SaveChangesAsync(cancellationToken);
        return prompt;
    }
}
