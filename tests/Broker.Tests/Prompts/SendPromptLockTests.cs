using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Npgsql;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.Prompts;

/// <summary>
/// SendPrompt to a machine whose stream is here, when its prompt is all that is queued: everything but the event log
/// entries and the numbering is done before the event-order lock, so the lock is held for the last round trip only.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SendPromptLockTests(PostgresFixture postgres)
{
    private const int MaxProbes = 100_000;

    [Fact]
    public async Task SendPrompt_OnlyPromptQueuedForALiveStream_PreparedBeforeTheEventOrderLockAndNumberedAfterIt()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptLockTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (holder, sending, waiter) = await SendWhileTheLockIsHeldAsync(env, agent, "late lock", timeout.Token);
        await using var held = holder;

        (await LocksAsync(env, waiter, "agent_outbox")).Should().Contain("RowExclusiveLock", "the outbox row is added before the lock");
        (await LocksAsync(env, waiter, "prompts")).Should().Contain("RowExclusiveLock");
        (await LocksAsync(env, waiter, "agent_link_state")).Should().BeEmpty(
            "the stream's row is locked only after the event-order lock, the order every holder of the lock takes them in");
        sending.IsCompleted.Should().BeFalse();

        await holder.Transaction.CommitAsync(timeout.Token);
        var sent = await sending;
        var delivery = await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);

        sent.Prompt.Status.Should().Be(PromptStatus.Sent);
        sent.Prompt.DeliveryAttempts.Should().Be(1);
        delivery.Seq.Should().BeGreaterThan(0);
        (await SteeringSeed.ScalarAsync(env.Database, """
            SELECT count(DISTINCT xmin::text) FROM events
            WHERE relay_session_id = $1 AND kind IN ('prompt_created', 'prompt_updated') AND payload->>'text' = 'late lock'
            """, Guid.Parse(sent.Prompt.SessionId))).Should().Be(1, "created and sent are one transaction");
        (await SteeringSeed.ScalarAsync(env.Database, """
            SELECT count(*) FROM events e1 JOIN events e2 ON e2.relay_session_id = e1.relay_session_id
            WHERE e1.kind = 'prompt_created' AND e2.kind = 'prompt_updated' AND e1.id < e2.id AND e1.payload->>'text' = 'late lock'
            """)).Should().Be(1, "the created entry comes before the sent entry in the log");
    }

    [Fact]
    public async Task SendPrompt_StreamReplacedWhileWaitingForTheLock_NothingNumberedAndTheNextStreamGetsThePrompt()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptLockTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (holder, sending, _) = await SendWhileTheLockIsHeldAsync(env, agent, "orphaned", timeout.Token);
        await using var held = holder;
        // Another replica's stream claims the machine now (the row is not locked by the waiting SendPrompt).
        (await SteeringSeed.ScalarAsync(env.Database,
            "WITH u AS (UPDATE agent_link_state SET connection_id = gen_random_uuid() WHERE machine_id = $1 RETURNING 1) SELECT count(*) FROM u",
            agent.MachineId)).Should().Be(1);
        await holder.Transaction.CommitAsync(timeout.Token);
        var sent = await sending;

        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM agent_outbox WHERE ref_id = $1 AND seq IS NULL", Guid.Parse(sent.Prompt.PromptId)))
            .Should().Be(1, "the stream that no longer owns the machine must not number its work");
        await agent.CloseAsync();
        await using var next = agent.CloneForSameMachine();
        await next.ConnectAsync(env.Broker, timeout.Token);
        var delivery = await next.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);

        delivery.PromptDelivery.Text.Should().Be("orphaned");
        agent.Received().Should().NotContain(m => m.PromptDelivery != null && m.PromptDelivery.PromptId == sent.Prompt.PromptId);
    }

    [Fact]
    public async Task SendPrompt_OnlyPromptQueuedForALiveStream_CommitsInTheRoundTripThatTakesTheLock()
    {
        using var timeout = TestTimeout.Start();
        var logs = new CapturingLoggerProvider();
        await using var env = await SteeringEnv.StartAsync<SendPromptLockTests>(postgres, configure: b => CaptureNpgsql(b, logs), cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var selector = await ConnectWithASessionAsync(env, agent, timeout.Token);

        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = selector, Text = "one round trip" },
            SteeringEnv.Call(timeout.Token)).ResponseAsync;
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);

        sent.Prompt.Status.Should().Be(PromptStatus.Sent);
        var lastRoundTrip = logs.Entries.Where(e => e.Category == "Npgsql.Command" && e.Message.Contains("pg_advisory_xact_lock")
            && e.Message.Contains("FROM agent_link_state WHERE machine_id = $1 FOR UPDATE")).Select(e => e.Message).ToList();
        lastRoundTrip.Should().NotBeEmpty("SendPrompt takes the lock, the stream's row and the numbering in one round trip");
        lastRoundTrip.Should().OnlyContain(m => m.TrimEnd().TrimEnd(']', ')', ' ').EndsWith("COMMIT", StringComparison.Ordinal),
            "COMMIT rides in that round trip, so the lock is not held while the broker reads its results: {0}", lastRoundTrip.FirstOrDefault());
    }

    /// <summary>Npgsql's command and transaction logs (Debug) into <paramref name="logs"/>.</summary>
    internal static void CaptureNpgsql(WebApplicationBuilder builder, CapturingLoggerProvider logs) =>
        builder.Logging.AddProvider(logs).AddFilter<CapturingLoggerProvider>(category: "Npgsql", level: LogLevel.Debug);

    /// <summary>
    /// Connects <paramref name="agent"/>, starts a session on it, takes the event-order lock in a transaction of the test's
    /// (dispose it) and sends the session a prompt; returns once that SendPrompt waits for the lock.
    /// </summary>
    private static async Task<(EventOrderLockHolder Holder, Task<SendPromptResponse> Sending, long Waiter)> SendWhileTheLockIsHeldAsync(
        SteeringEnv env, SimulatedAgent agent, string text, CancellationToken cancellationToken)
    {
        var selector = await ConnectWithASessionAsync(env, agent, cancellationToken);
        var holder = await EventOrderLockHolder.TakeAsync(env.Database, cancellationToken);
        var sending = env.Operator.SendPromptAsync(new SendPromptRequest { Session = selector, Text = text }, SteeringEnv.Call(cancellationToken)).ResponseAsync;
        return (holder, sending, await WaiterOnTheLockAsync(env, cancellationToken));
    }

    /// <summary>Connects <paramref name="agent"/> and starts a Claude session on it; returns the session's selector.</summary>
    private static async Task<SessionSelector> ConnectWithASessionAsync(SteeringEnv env, SimulatedAgent agent, CancellationToken cancellationToken)
    {
        await agent.ConnectAsync(env.Broker, cancellationToken);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid: 4250), SessionStartSource.Startup));
        return new SessionSelector { ClaudeSessionId = claudeId.ToString() };
    }

    /// <summary>The backend of the SendPrompt waiting for the event-order lock (it has stored its prompt), once there is one.</summary>
    private static async Task<long> WaiterOnTheLockAsync(SteeringEnv env, CancellationToken cancellationToken)
    {
        for (var probe = 0; probe < MaxProbes; probe++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pid = await SteeringSeed.ScalarAsync(env.Database, """
                SELECT coalesce(max(w.pid), 0) FROM pg_locks w
                WHERE w.locktype = 'advisory' AND NOT w.granted AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND EXISTS (SELECT 1 FROM pg_locks p WHERE p.pid = w.pid AND p.relation = 'prompts'::regclass AND p.mode = 'RowExclusiveLock')
                """);
            if (pid != 0)
            {
                return pid;
            }
        }

        throw new TimeoutException("No transaction started waiting for the event-order lock.");
    }

    private static async Task<List<string>> LocksAsync(SteeringEnv env, long pid, string table)
    {
        await using var command = env.Database.DataSource.CreateCommand(
            "SELECT mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND relation = $2::regclass AND granted");
        command.Parameters.Add(new NpgsqlParameter { Value = (int)pid });
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        var modes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            modes.Add(reader.GetString(0));
        }

        return modes;
    }
}
