using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Relay.Broker.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// A stream's next batch is submitted while its batch before commits, and, when both can be stored from memory, sent
/// behind it, waiting in PostgreSQL for the event-order lock (InboundProcessor.Pipeline.cs). The tests hold that lock in
/// a transaction of their own, so both batches are provably in flight at once, then let it go.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PipelineTests(PostgresFixture postgres)
{
    // Each probe is a database round trip, a tenth of a millisecond when PostgreSQL is idle: 2,000 of them gave a stream
    // delayed by a busy test run only 200 ms to hand its batch over. The test's timeout bounds the time.
    private const int MaxProbes = 100_000;

    [Fact]
    public async Task ReceiptThenReply_ReplyArrivesWhileTheReceiptCommits_SentBehindItAndBothCommitInOrder()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await PromptOnTheStreamAsync(timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(run.Env.Database, timeout.Token);

        var (receiptSeq, replySeq) = await ReceiptAndReplyOnTheLockAsync(run, timeout.Token);

        await holder.DisposeAsync(); // rolls back: the lock goes to the receipt, then to the reply
        await run.Agent.WaitForAckAsync(replySeq, timeout.Token);

        run.Processor.MemoryRefused.Should().Be(0, "the reply's checks found the prompt as the receipt committed it");
        run.Processor.BatchesFromMemory.Should().Be(run.FromMemoryBefore + 2);
        await using var db = run.Env.Database.CreateContext();
        var prompt = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == run.PromptId, timeout.Token);
        prompt.Status.Should().Be(Db.PromptStatus.Replied);
        prompt.DeliveredAt.Should().NotBeNull("the receipt's change is kept by the reply's, which did not know its row version");
        await ReceiptLoggedBeforeReplyAsync(run, receiptSeq, replySeq, timeout.Token);
    }

    [Fact]
    public async Task ReceiptThenReply_ReceiptOutOfDateWhileBothWait_ReplyRefusedTooAndBothStoredTheUsualWayInOrder()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await PromptOnTheStreamAsync(timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(run.Env.Database, timeout.Token);
        // Another replica renames the session in the transaction that holds the lock: the receipt's copy is out of date.
        await using (var rename = new NpgsqlCommand("UPDATE sessions SET name = 'renamed-elsewhere' WHERE id = $1", holder.Connection, holder.Transaction))
        {
            rename.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.SessionId });
            (await rename.ExecuteNonQueryAsync(timeout.Token)).Should().Be(1);
        }

        var (receiptSeq, replySeq) = await ReceiptAndReplyOnTheLockAsync(run, timeout.Token);
        await holder.Transaction.CommitAsync(timeout.Token);
        await holder.DisposeAsync();
        await run.Agent.WaitForAckAsync(replySeq, timeout.Token);

        run.Processor.MemoryRefused.Should().Be(2, "the receipt found the session changed, and the reply found the receipt not committed");
        run.Processor.BatchesFromMemory.Should().Be(run.FromMemoryBefore);
        await using var db = run.Env.Database.CreateContext();
        var prompt = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == run.PromptId, timeout.Token);
        prompt.Status.Should().Be(Db.PromptStatus.Replied);
        prompt.DeliveredAt.Should().NotBeNull();
        (await db.Sessions.AsNoTracking().SingleAsync(s => s.Id == run.SessionId, timeout.Token)).Name.Should().Be("renamed-elsewhere");
        await ReceiptLoggedBeforeReplyAsync(run, receiptSeq, replySeq, timeout.Token);
    }

    [Fact]
    public async Task Hooks_FirstBreaksADatabaseRuleWhileTheNextWaits_NextRefusedThenStoredAfterTheFirstIsRefusedAlone()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await PromptOnTheStreamAsync(timeout.Token);
        await using var holder = await EventOrderLockHolder.TakeAsync(run.Env.Database, timeout.Token);

        // PostgreSQL's text cannot hold NUL: only the database finds out, and the stream stores the message as refused.
        var before = run.Connection.MessagesHandedOver;
        var broken = await run.Agent.SendAsync(Hook(run.Evidence, "PreToolUse", f => f.ToolName = "Bash\0"), timeout.Token);
        await TakenByTheLoopAsync(run, before + 1, timeout.Token);
        var next = await run.Agent.SendAsync(Hook(run.Evidence, "PostToolUse", f => f.ToolName = "Bash"), timeout.Token);
        await ProbeAsync(run, () => run.Processor.PendingBatches == 1 || run.Processor.BatchesPipelined == 1, "the next batch is queued or sent behind the first", timeout.Token);
        await holder.DisposeAsync();
        await run.Agent.WaitForAckAsync(next, timeout.Token);

        var events = await AgentLinkHarness.EventsOfAsync(run.Env.Database, run.Agent.MachineId, timeout.Token);
        events.Where(e => e.AgentSeq == (long)broken).Should().ContainSingle().Which.Kind.Should().Be(EventKind.MessageRejected);
        events.Where(e => e.AgentSeq == (long)next).Should().ContainSingle().Which.HookEventName.Should().Be("PostToolUse",
            "the batch behind the refused one was stored once, after it");
        (await run.Env.Database.ScalarAsync<long>($"SELECT last_inbound_seq FROM agent_link_state WHERE machine_id = '{run.Agent.MachineId}'", timeout.Token))
            .Should().Be((long)next);
        run.Agent.Ended.IsCompleted.Should().BeFalse("a message the database refuses is refused alone; the stream goes on");
    }

    [Fact]
    public async Task Hooks_ArriveWhileTheBatchBeforeThemWaits_JoinOneBatchBehindIt()
    {
        using var timeout = TestTimeout.Start();
        await using var run = await PromptOnTheStreamAsync(timeout.Token);
        var connection = run.Connection;
        await using var holder = await EventOrderLockHolder.TakeAsync(run.Env.Database, timeout.Token);

        // A status change needs a lookup memory does not hold: its group waits for the lock, and the commit loop with it.
        // Counted before the send: the stream may hand the hook over before SendAsync returns.
        var handedOver = connection.MessagesHandedOver + 1;
        var stop = await run.Agent.SendAsync(Hook(run.Evidence, "Stop"), timeout.Token);
        await TakenByTheLoopAsync(run, handedOver, timeout.Token);
        var pre = await run.Agent.SendAsync(Hook(run.Evidence, "PreToolUse"), timeout.Token);
        await ProbeAsync(run, () => connection.MessagesHandedOver == handedOver + 1, "the stream handed the hook over", timeout.Token);
        var post = await run.Agent.SendAsync(Hook(run.Evidence, "PostToolUse"), timeout.Token);
        await ProbeAsync(run, () => connection.MessagesHandedOver == handedOver + 2, "the stream handed the hook over", timeout.Token);

        run.Processor.PendingBatches.Should().Be(1, "the second hook joined the batch the loop had not taken yet");
        await holder.DisposeAsync();
        await run.Agent.WaitForAckAsync(post, timeout.Token);

        var versions = await TransactionsOfAsync(run, [stop, pre, post], timeout.Token);
        versions[pre].Should().Be(versions[post], "they were stored as one batch");
        versions[stop].Should().NotBe(versions[pre]);
    }

    [Fact]
    public async Task Hooks_ArriveWhileTheBatchBeforeThemWaits_JoinItOnlyWithinMaxBatchBytes()
    {
        using var timeout = TestTimeout.Start();
        // The least allowed: two hooks of 40 KB fit one batch each, not one together.
        await using var run = await PromptOnTheStreamAsync(timeout.Token, new() { ["AgentLink:MaxBatchBytes"] = "65536" });
        var connection = run.Connection;
        await using var holder = await EventOrderLockHolder.TakeAsync(run.Env.Database, timeout.Token);

        var handedOver = connection.MessagesHandedOver + 1;
        var stop = await run.Agent.SendAsync(Hook(run.Evidence, "Stop"), timeout.Token);
        await TakenByTheLoopAsync(run, handedOver, timeout.Token);
        var pre = await run.Agent.SendAsync(Large(Hook(run.Evidence, "PreToolUse")), timeout.Token);
        await ProbeAsync(run, () => connection.MessagesHandedOver == handedOver + 1, "the stream handed the hook over", timeout.Token);
        var post = await run.Agent.SendAsync(Large(Hook(run.Evidence, "PostToolUse")), timeout.Token);
        await holder.DisposeAsync();
        await run.Agent.WaitForAckAsync(post, timeout.Token);

        // Each batch is a transaction, or a savepoint of one: either way its rows carry an xmin of their own.
        var versions = await TransactionsOfAsync(run, [stop, pre, post], timeout.Token);
        versions[pre].Should().NotBe(versions[post], "the second would have taken the batch past 64 KiB");
        versions[stop].Should().NotBe(versions[pre]);

        static AgentMessage Large(AgentMessage hook)
        {
            hook.HookEvent.RawJson = hook.HookEvent.RawJson[..^1] + ",\"padding\":\"" + new string('x', 40 * 1024) + "\"}";
            return hook;
        }
    }

    /// <summary>The transaction (xmin) that stored each seq's event row.</summary>
    private static async Task<Dictionary<ulong, uint>> TransactionsOfAsync(PromptRun run, ulong[] seqs, CancellationToken cancellationToken)
    {
        await using var connection = await run.Env.Database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT agent_seq, xmin FROM events WHERE machine_id = $1 AND agent_seq = ANY($2)", connection)
        {
            Parameters = { new NpgsqlParameter<Guid> { TypedValue = run.Agent.MachineId }, new NpgsqlParameter<long[]> { TypedValue = [.. seqs.Select(s => (long)s)] } },
        };
        var versions = new Dictionary<ulong, uint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions[(ulong)reader.GetInt64(0)] = reader.GetFieldValue<uint>(1);
        }

        return versions;
    }

    /// <summary>
    /// Sends the prompt's receipt, then its reply once the receipt waits for the lock; returns their seqs once the reply
    /// was sent behind it and waits too.
    /// </summary>
    private static async Task<(ulong Receipt, ulong Reply)> ReceiptAndReplyOnTheLockAsync(PromptRun run, CancellationToken cancellationToken)
    {
        var before = run.Connection.MessagesHandedOver;
        var receipt = await run.Agent.SendAsync(run.Receipt(), cancellationToken);
        await TakenByTheLoopAsync(run, before + 1, cancellationToken);
        var reply = await run.Agent.SendAsync(run.Reply(), cancellationToken);
        await ProbeAsync(run, () => run.Processor.BatchesPipelined == 1, "the reply was prepared from what the receipt leaves and sent behind it", cancellationToken);
        return (receipt, reply);
    }

    /// <summary>The log holds the receipt's entries, then the reply's, each once: the order the agent sent them.</summary>
    private static async Task ReceiptLoggedBeforeReplyAsync(PromptRun run, ulong receiptSeq, ulong replySeq, CancellationToken cancellationToken)
    {
        var events = await AgentLinkHarness.EventsOfAsync(run.Env.Database, run.Agent.MachineId, cancellationToken);
        var receipt = events.Where(e => e.AgentSeq == (long)receiptSeq).ToList();
        var reply = events.Where(e => e.AgentSeq == (long)replySeq).ToList();
        receipt.Should().NotBeEmpty();
        reply.Should().ContainSingle(e => e.Kind == EventKind.Reply);
        reply.Min(e => e.Id).Should().BeGreaterThan(receipt.Max(e => e.Id));
    }

    /// <summary>
    /// A broker, an agent with a session whose hooks the stream remembers, and a prompt SendPrompt put on the stream (so
    /// its receipt, and then its reply, can be stored from memory).
    /// </summary>
    private async Task<PromptRun> PromptOnTheStreamAsync(CancellationToken cancellationToken, Dictionary<string, string?>? settings = null)
    {
        // The prompt expiry sweep takes the event-order lock every few seconds; it must not take a batch's place in line.
        settings ??= [];
        settings["Prompts:ExpirySweepInterval"] = "01:00:00";
        var env = await SteeringEnv.StartAsync<PipelineTests>(postgres, settings, cancellationToken: cancellationToken);
        var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: cancellationToken);
        await agent.ConnectAsync(env.Broker, cancellationToken);
        var claudeId = Guid.NewGuid();
        var evidence = Evidence(claudeId, pid: 81);
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(evidence, SessionStartSource.Startup));
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, Hook(evidence, "PostToolUse"));
        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = new SessionSelector { ClaudeSessionId = claudeId.ToString() }, Text = "pipeline me" },
            SteeringEnv.Call(cancellationToken)).ResponseAsync;
        var delivery = await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, cancellationToken);

        // The agent acks the delivery on its own, and the broker hands that Ack over like any message: once it is stored,
        // it can no longer arrive in the middle of a test's count of messages handed over.
        for (var probe = 0; probe < MaxProbes && await AckedAsync(env, agent.MachineId) < (long)delivery.Seq; probe++)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        (await AckedAsync(env, agent.MachineId)).Should().BeGreaterThanOrEqualTo((long)delivery.Seq, "the agent's ack of the delivery was stored");
        var processor = env.Broker.Services.GetRequiredService<InboundProcessor>();
        var sessionId = Guid.Parse(sent.Prompt.SessionId);
        var connection = env.Broker.Services.GetRequiredService<AgentConnectionRegistry>().Find(agent.MachineId)!;
        return new PromptRun(env, agent, connection, evidence, sessionId, Guid.Parse(sent.Prompt.PromptId), processor, processor.BatchesFromMemory);
    }

    /// <summary>
    /// Returns once the commit loop took everything the stream handed over: with the event-order lock held, the last
    /// batch is then in a round trip waiting for it, and the loop with it (or sent, waiting, when from memory).
    /// </summary>
    private static Task TakenByTheLoopAsync(PromptRun run, long handedOver, CancellationToken cancellationToken) =>
        ProbeAsync(run, () => run.Connection.MessagesHandedOver == handedOver && run.Processor.PendingBatches == 0, "the commit loop took the batch", cancellationToken);

    /// <summary>Returns once <paramref name="condition"/> holds; each probe waits for a database round trip.</summary>
    private static async Task ProbeAsync(PromptRun run, Func<bool> condition, string because, CancellationToken cancellationToken)
    {
        for (var probe = 0; probe < MaxProbes && !condition(); probe++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await WaitingAsync(run.Env);
        }

        condition().Should().BeTrue(because);
    }

    private static Task<long> AckedAsync(SteeringEnv env, Guid machineId) =>
        SteeringSeed.ScalarAsync(env.Database, "SELECT last_outbound_seq_acked FROM agent_link_state WHERE machine_id = $1", machineId);

    private static Task<long> WaitingAsync(SteeringEnv env) => SteeringSeed.ScalarAsync(env.Database, """
        SELECT count(*) FROM pg_locks w
        WHERE w.locktype = 'advisory' AND NOT w.granted AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """);

    private sealed record PromptRun(
        SteeringEnv Env, SimulatedAgent Agent, AgentConnection Connection, SessionEvidence Evidence, Guid SessionId, Guid PromptId, InboundProcessor Processor, long FromMemoryBefore)
        : IAsyncDisposable
    {
        public AgentMessage Receipt() => new()
        {
            PromptReceipt = new PromptReceipt { PromptId = PromptId.ToString("D"), Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence },
        };

        public AgentMessage Reply() => new()
        {
            Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), InReplyTo = PromptId.ToString("D"), Text = "done", Session = Evidence, Source = ReplySource.ReplyTool },
        };

        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Env.DisposeAsync();
        }
    }
}
