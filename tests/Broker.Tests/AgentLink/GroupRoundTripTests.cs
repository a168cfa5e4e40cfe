using Microsoft.EntityFrameworkCore;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Prompts;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// A prompt's receipt and its reply each cost a group of two round trips: the lock, the fence and every lookup the
/// batch needs; then the batch's own changes, the event rows and COMMIT. The event-order lock is held for both.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupRoundTripTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ReceiptThenReply_EachAloneInItsGroup_TwoRoundTripsEach()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupRoundTripTests>();
        var logs = new CapturingLoggerProvider();
        await using var broker = await TestBroker.StartAsync(database, configure: b => SendPromptLockTests.CaptureNpgsql(b, logs), cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(Evidence(claudeId, pid: 77), SessionStartSource.Startup));
        var promptId = await QueuePromptAsync(database, claudeId, timeout.Token);
        AgentLinkHarness.Notify(broker, agent.MachineId);
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == promptId.ToString("D"), timeout.Token);

        var receipt = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, new AgentMessage
        {
            PromptReceipt = new PromptReceipt { PromptId = promptId.ToString("D"), Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence(claudeId) },
        }));
        var reply = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, new AgentMessage
        {
            Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), InReplyTo = promptId.ToString("D"), Text = "done", Session = Evidence(claudeId), Source = ReplySource.ReplyTool },
        }));

        receipt.Should().HaveCount(2, "the prompt and its session are read with the lock and the fence, and the changes ride with the event rows: {0}", string.Join("\n", receipt));
        reply.Should().HaveCount(2, "the session, the prompt and the stored replies are read with the lock and the fence, and the changes ride with the event rows: {0}", string.Join("\n", reply));
        await using var db = database.CreateContext();
        (await db.Prompts.SingleAsync(p => p.Id == promptId, timeout.Token)).Status.Should().Be(Db.PromptStatus.Replied);
    }

    /// <summary>
    /// The round trips of the group that <paramref name="send"/> causes: on its connection, from the one that takes the
    /// event-order lock with the fences to the one that commits.
    /// </summary>
    private static async Task<List<string>> RoundTripsOfTheNextGroup(CapturingLoggerProvider logs, Func<Task> send)
    {
        var before = logs.Entries.Count;
        await send();
        return RoundTripsOfTheGroupAfter(logs, before);
    }

    /// <summary>
    /// The round trips of the first group that takes the event-order lock after entry <paramref name="before"/> of the
    /// log, on its connection, up to its COMMIT.
    /// </summary>
    internal static List<string> RoundTripsOfTheGroupAfter(CapturingLoggerProvider logs, int before)
    {
        var commands = logs.Entries.Skip(before).Where(e => e.Category == "Npgsql.Command" && e.Message.StartsWith("Executing", StringComparison.Ordinal)).ToList();
        var start = commands.FindIndex(e => e.Message.Contains("pg_advisory_xact_lock") && e.Message.Contains("FROM agent_link_state s JOIN machines"));
        start.Should().BeGreaterThanOrEqualTo(0, "the batch is stored by a group that takes the event-order lock");
        var connector = commands[start].ConnectorId;
        connector.Should().NotBeNull("Npgsql names the connection of each command");
        var group = commands.Skip(start).Where(e => e.ConnectorId == connector).Select(e => e.Message).ToList();
        var end = group.FindIndex(m => m.Contains("COMMIT"));
        end.Should().BeGreaterThanOrEqualTo(0, "the group commits");
        return group.Take(end + 1).ToList();
    }

    private static async Task<Guid> QueuePromptAsync(TestDatabase database, Guid claudeId, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        var session = await db.Sessions.AsNoTracking().SingleAsync(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id), cancellationToken);
        var id = Guid.NewGuid();
        db.Prompts.Add(new Db.Prompt
        {
            Id = id, IdempotencyKey = id.ToString("D"), RelaySessionId = session.Id, SenderKind = Db.SenderKind.Person, SenderId = Guid.NewGuid().ToString("D"),
            SenderName = "alice", Text = "count my round trips", Status = Db.PromptStatus.Queued, CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
        });
        await db.SaveChangesAsync(cancellationToken);
        return id;
    }
}
