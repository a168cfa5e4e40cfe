using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Prompts;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Prompts;

/// <summary>Prompts:MaxConcurrentSends: a burst of SendPrompt calls waits in the broker, not on database connections.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SendPromptGateTests(PostgresFixture postgres)
{
    private const int Burst = 12;
    private const int Slots = 2;
    private const int MaxProbes = 100_000;

    [Fact]
    public async Task SendPrompt_BurstWhileTheEventOrderLockIsHeld_OnlyMaxConcurrentSendsWaitOnTheLockAndAllAreStoredAfter()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptGateTests>(
            postgres, new Dictionary<string, string?>
            {
                ["Prompts:MaxConcurrentSends"] = Slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // The expiry sweep waits on the same lock as often as it can, as it does by chance every 5 s by default.
                ["Prompts:ExpirySweepInterval"] = "00:00:00.010",
            }, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var gate = env.Broker.Services.GetRequiredService<PromptSendGate>();

        // A long transaction holds the event-order lock, as a big agent batch does.
        await using var holder = await env.Database.DataSource.OpenConnectionAsync(timeout.Token);
        await using var transaction = await holder.BeginTransactionAsync(timeout.Token);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", holder, transaction))
        {
            take.Parameters.Add(new NpgsqlParameter<long> { TypedValue = EventIngestWriter.EventOrderLockKey });
            await take.ExecuteNonQueryAsync(timeout.Token);
        }

        var sends = Enumerable.Range(0, Burst)
            .Select(i => env.Operator.SendPromptAsync(
                new SendPromptRequest { PromptId = $"burst-{i}", Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = $"prompt {i}" },
                SteeringEnv.Call(timeout.Token)).ResponseAsync)
            .ToList();

        // Every call ends up either waiting in the gate (holding nothing) or on the lock (holding a connection). Only
        // waiters that stored their prompt count: the broker's prompt expiry sweep takes the same lock every few seconds
        // (first thing in its transaction, before it touches prompts) and would otherwise be counted as a SendPrompt.
        var onLock = -1;
        for (var probe = 0; probe < MaxProbes && onLock + gate.Waiting != Burst; probe++)
        {
            timeout.Token.ThrowIfCancellationRequested();
            onLock = (int)await SteeringSeed.ScalarAsync(env.Database, """
                SELECT count(*) FROM pg_locks w
                WHERE w.locktype = 'advisory' AND NOT w.granted AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND EXISTS (SELECT 1 FROM pg_locks p WHERE p.pid = w.pid AND p.relation = 'prompts'::regclass AND p.mode = 'RowExclusiveLock')
                """);
        }

        onLock.Should().Be(Slots, "only the calls holding a slot may wait on the lock with a connection");
        gate.Waiting.Should().Be(Burst - Slots);
        sends.Should().OnlyContain(s => !s.IsCompleted, "nothing can be stored while the lock is held");

        await transaction.CommitAsync(timeout.Token);
        var stored = await Task.WhenAll(sends);

        stored.Select(r => r.Prompt.PromptId).Should().OnlyHaveUniqueItems().And.HaveCount(Burst);
        stored.Should().OnlyContain(r => r.Prompt.Status == PromptStatus.Queued);
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM prompts WHERE relay_session_id = $1", session.Id)).Should().Be(Burst);
        gate.Waiting.Should().Be(0);
    }
}
