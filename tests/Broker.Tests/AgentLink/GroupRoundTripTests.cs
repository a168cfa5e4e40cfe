using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Relay.Broker.AgentLink;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Prompts;
using Relay.Broker.Tests.Queries;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// A prompt's receipt costs a group of two round trips: the lock, the fence and every lookup the batch needs; then the
/// batch's own changes, the event rows and COMMIT. Its reply, which names what the receipt just wrote, is stored from
/// the stream's memory in one (InboundProcessor.FromMemory.cs), unless a check of that round trip finds the memory out
/// of date; then it is stored the usual way, with what the database holds.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupRoundTripTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ReceiptThenReply_EachAloneInItsGroup_ReceiptTwoRoundTripsReplyOneFromMemory()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var run = await DeliveredPromptAsync(b => SendPromptLockTests.CaptureNpgsql(b, logs), timeout.Token);

        var receipt = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt()));
        var reply = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(Guid.NewGuid())));

        receipt.Should().HaveCount(2, "the prompt and its session are read with the lock and the fence, and the changes ride with the event rows: {0}", string.Join("\n", receipt));
        reply.Should().ContainSingle("the session and the prompt are as the receipt left them: checked, not read, in the round trip that commits: {0}", string.Join("\n", reply));
        run.Processor.BatchesFromMemory.Should().Be(1);
        run.Processor.MemoryRefused.Should().Be(0);
        await using var db = run.Database.CreateContext();
        var prompt = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == run.PromptId, timeout.Token);
        prompt.Status.Should().Be(Db.PromptStatus.Replied);
        prompt.DeliveredAt.Should().NotBeNull("the receipt's change is kept by the reply's");
        (await db.Replies.CountAsync(r => r.PromptId == run.PromptId, timeout.Token)).Should().Be(1);
    }

    [Fact]
    public async Task SendPromptThenReceiptThenReply_PromptHandedToTheStreamsMemory_EachAgentBatchOneRoundTrip()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var env = await SteeringEnv.StartAsync<GroupRoundTripTests>(postgres, configure: b => SendPromptLockTests.CaptureNpgsql(b, logs), cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(env.Broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        // A new session is saved with its first segment, not rendered: the batch after it leaves the session remembered.
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(Evidence(claudeId, pid: 79), SessionStartSource.Startup));
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(claudeId, pid: 79), "PostToolUse"));
        var processor = env.Broker.Services.GetRequiredService<InboundProcessor>();

        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = new SessionSelector { ClaudeSessionId = claudeId.ToString() }, Text = "remember me" },
            SteeringEnv.Call(timeout.Token)).ResponseAsync;
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);
        var receipt = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, new AgentMessage
        {
            PromptReceipt = new PromptReceipt { PromptId = sent.Prompt.PromptId, Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence(claudeId) },
        }));
        var reply = await RoundTripsOfTheNextGroup(logs, () => AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, new AgentMessage
        {
            Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), InReplyTo = sent.Prompt.PromptId, Text = "done", Session = Evidence(claudeId), Source = ReplySource.ReplyTool },
        }));

        receipt.Should().ContainSingle("SendPrompt handed the stream the prompt it committed: {0}", string.Join("\n", receipt));
        reply.Should().ContainSingle("the receipt left the prompt and the session in the stream's memory: {0}", string.Join("\n", reply));
        processor.BatchesFromMemory.Should().Be(2);
        processor.MemoryRefused.Should().Be(0);
        await using var db = env.Database.CreateContext();
        var prompt = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == Guid.Parse(sent.Prompt.PromptId), timeout.Token);
        prompt.Status.Should().Be(Db.PromptStatus.Replied);
        prompt.DeliveredAt.Should().NotBeNull();
        prompt.Text.Should().Be("remember me");
    }

    [Fact]
    public async Task Reply_SessionChangedSinceTheReceipt_RefusedByItsVersionAndStoredWithWhatTheDatabaseHolds()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt());
        await run.ExecuteAsync("UPDATE sessions SET name = 'renamed-elsewhere' WHERE id = $1", run.SessionId, timeout.Token);

        var replyId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(replyId));

        run.Processor.MemoryRefused.Should().Be(1, "the session's row version moved");
        run.Processor.BatchesFromMemory.Should().Be(0);
        var events = await AgentLinkHarness.EventsOfAsync(run.Database, run.Agent.MachineId, timeout.Token);
        events.Where(e => e.Kind == EventKind.Reply).Should().ContainSingle().Which.Payload.Should().Contain("renamed-elsewhere",
            "the reply was prepared again from the session as it is now, not from the remembered copy");
        await using var db = run.Database.CreateContext();
        (await db.Sessions.AsNoTracking().SingleAsync(s => s.Id == run.SessionId, timeout.Token)).Name.Should().Be("renamed-elsewhere",
            "the remembered copy's name was not written back over it");
    }

    [Fact]
    public async Task Reply_FromMemoryAfterAReceiptTimedInNanoseconds_ShowsTheTimeAsTheDatabaseKeepsIt()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        var at = new DateTimeOffset(2026, 11, 22, 1, 2, 3, TimeSpan.Zero).AddTicks(1_234_567);
        var receipt = run.Receipt();
        receipt.PromptReceipt.At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(at);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, receipt);

        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(Guid.NewGuid()));

        run.Processor.BatchesFromMemory.Should().Be(1);
        await using var db = run.Database.CreateContext();
        (await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == run.PromptId, timeout.Token)).DeliveredAt.Should().Be(at.AddTicks(-7));
        var replied = (await AgentLinkHarness.EventsOfAsync(run.Database, run.Agent.MachineId, timeout.Token))
            .Where(e => e.Kind == EventKind.PromptUpdated).Last();
        replied.Payload.Should().Contain("01:02:03.123456Z", "the remembered prompt's delivery time is the row's, to the microsecond")
            .And.NotContain("1234567");
    }

    [Theory]
    [InlineData("UPDATE machines SET revoked_at = now() WHERE id = $1")]
    [InlineData("UPDATE agent_link_state SET connection_id = gen_random_uuid() WHERE machine_id = $1")]
    public async Task Reply_MachineRevokedOrClaimedSinceTheReceipt_FenceRefusesItAndNothingIsStored(string elsewhere)
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt());
        await run.ExecuteAsync(elsewhere, run.Agent.MachineId, timeout.Token); // another replica's doing: no signal here

        var replyId = Guid.NewGuid();
        await run.Agent.SendAsync(run.Reply(replyId), timeout.Token);
        var ended = await run.Agent.Ended.WaitAsync(timeout.Token);

        ended.Should().NotBeNull("the stream no longer speaks for the machine");
        run.Processor.MemoryRefused.Should().Be(1, "the fence row is not as the stream left it");
        run.Processor.BatchesFromMemory.Should().Be(0);
        await using var db = run.Database.CreateContext();
        (await db.Replies.AnyAsync(r => r.Id == replyId, timeout.Token)).Should().BeFalse();
        (await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == run.PromptId, timeout.Token)).Status.Should().Be(Db.PromptStatus.Delivered);
    }

    [Fact]
    public async Task Reply_AlreadyStoredUnderANewSeq_PromptLookedUpAndReplyStoredOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt());
        var replyId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(replyId));

        // The same reply again (a re-attached channel re-sends it): the stream's memory keeps no answered prompt, so the
        // usual way looks the prompt up and finds the reply stored under its key.
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(replyId));

        run.Processor.BatchesFromMemory.Should().Be(1, "the first copy of the reply");
        run.Processor.MemoryRefused.Should().Be(0, "the second copy was not tried from memory");
        await ReplyStoredOnceAsync(run, replyId, timeout.Token);
    }

    [Fact]
    public async Task ReplyToNoPrompt_AlreadyStoredUnderANewSeq_RefusedByItsKeyFromMemoryAndStoredOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt());
        var replyId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(replyId, inReplyTo: string.Empty));

        // The same reply again: it names only its session, which memory holds, so it is taken as new from memory and
        // fails on its key; stored the usual way, it is found stored.
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Reply(replyId, inReplyTo: string.Empty));

        run.Processor.MemoryRefused.Should().Be(1, "the second copy is stored already");
        await ReplyStoredOnceAsync(run, replyId, timeout.Token);
    }

    /// <summary>The reply is one row and one event of the log, however many copies were sent.</summary>
    private static async Task ReplyStoredOnceAsync(DeliveredPrompt run, Guid replyId, CancellationToken cancellationToken)
    {
        await using var db = run.Database.CreateContext();
        (await db.Replies.CountAsync(r => r.Id == replyId, cancellationToken)).Should().Be(1);
        var events = await AgentLinkHarness.EventsOfAsync(run.Database, run.Agent.MachineId, cancellationToken);
        events.Where(e => e.Kind == EventKind.Reply).Should().ContainSingle();
    }

    [Fact]
    public async Task Hook_NewClaudeSessionAfterAReceipt_LookedUpUnderTheLockWithoutARoundTripWasted()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, run.Receipt());
        var sessionsBefore = await AgentLinkHarness.SessionsOfAsync(run.Database, run.Agent.MachineId, timeout.Token);

        // Nothing in the stream's memory names this Claude session: finding its session needs a lookup, which the
        // attempt from memory may not do before the lock.
        await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, SessionStart(Evidence(Guid.NewGuid(), pid: 78), SessionStartSource.Startup));

        run.Processor.BatchesFromMemory.Should().Be(0);
        run.Processor.MemoryRefused.Should().Be(0, "the attempt ended before it sent anything");
        var sessions = await AgentLinkHarness.SessionsOfAsync(run.Database, run.Agent.MachineId, timeout.Token);
        sessions.Should().HaveCount(sessionsBefore.Count + 1, "a new process is a new session");
    }

    [Fact]
    public async Task Hooks_OfOneSessionOneBatchAtATime_ToolHooksFromMemoryStatusChangesLookedUp()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await DeliveredPromptAsync(configure: null, timeout.Token);
        string[] hooks = ["UserPromptSubmit", "PreToolUse", "PostToolUse", "PreToolUse", "PostToolUse", "Stop"];
        var fromMemory = new List<long>();

        foreach (var name in hooks)
        {
            var before = run.Processor.BatchesFromMemory;
            await AgentLinkHarness.SendAndCommitAsync(run.Agent, timeout.Token, Hook(run.Evidence, name));
            fromMemory.Add(run.Processor.BatchesFromMemory - before);
        }

        // A status change writes a session entry, whose payload needs the session's lineage: a lookup memory does not hold.
        fromMemory.Should().Equal([0, 1, 1, 1, 1, 0], "a tool hook names only the session the batch before it wrote");
        run.Processor.MemoryRefused.Should().Be(0);
        var events = await AgentLinkHarness.EventsOfAsync(run.Database, run.Agent.MachineId, timeout.Token);
        events.Where(e => e.HookEventName is not null).Select(e => e.HookEventName).Should().Equal(["SessionStart", .. hooks]);
        await using var db = run.Database.CreateContext();
        (await db.Sessions.AsNoTracking().SingleAsync(s => s.Id == run.SessionId, timeout.Token)).LastActivityAt.Should().NotBeNull();
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

    /// <summary>A broker, a connected agent with one session, and a prompt to that session delivered on the stream.</summary>
    private async Task<DeliveredPrompt> DeliveredPromptAsync(Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder>? configure, CancellationToken cancellationToken)
    {
        var database = await postgres.DatabaseFor<GroupRoundTripTests>();
        var broker = await TestBroker.StartAsync(database, configure: configure, cancellationToken: cancellationToken);
        var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: cancellationToken);
        await agent.ConnectAsync(broker, cancellationToken);
        var claudeId = Guid.NewGuid();
        var evidence = Evidence(claudeId, pid: 77);
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(evidence, SessionStartSource.Startup));
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
        AgentLinkHarness.Notify(broker, agent.MachineId);
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == id.ToString("D"), cancellationToken);
        return new DeliveredPrompt(database, broker, agent, evidence, session.Id, id);
    }

    private sealed record DeliveredPrompt(TestDatabase Database, TestBroker Broker, SimulatedAgent Agent, SessionEvidence Evidence, Guid SessionId, Guid PromptId)
        : IAsyncDisposable
    {
        public InboundProcessor Processor => Broker.Services.GetRequiredService<InboundProcessor>();

        public AgentMessage Receipt() => new()
        {
            PromptReceipt = new PromptReceipt { PromptId = PromptId.ToString("D"), Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence },
        };

        public AgentMessage Reply(Guid replyId, string? inReplyTo = null) => new()
        {
            Reply = new SessionReply { ReplyId = replyId.ToString("D"), InReplyTo = inReplyTo ?? PromptId.ToString("D"), Text = "done", Session = Evidence, Source = ReplySource.ReplyTool },
        };

        /// <summary>A change behind the broker's back, as another replica or an operator would make it.</summary>
        public async Task ExecuteAsync(string sql, Guid id, CancellationToken cancellationToken)
        {
            await using var connection = new NpgsqlConnection(Database.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } } };
            (await command.ExecuteNonQueryAsync(cancellationToken)).Should().Be(1);
        }

        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Broker.DisposeAsync();
        }
    }
}
