using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Broker.Watch.Timeline;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class OutboxFiller
{
    /// <summary>
    /// The fill of a writer that is queuing <paramref name="prompt"/> (added to <paramref name="db"/>, not yet saved) for a
    /// machine whose stream is on this replica, when nothing else is queued for the machine besides unnumbered outbox
    /// rows. It stores the prompt already SENT, with its outbox row, before taking the event-order lock, then sends the
    /// lock, <paramref name="entries"/>, the prompt's SENT entry, the stream's row lock, the numbering and COMMIT in one
    /// round trip, so the lock is held only while PostgreSQL runs them. On return the writer's transaction is committed.
    /// Returns null, having saved nothing and committed nothing, when anything else is queued (the caller then saves and
    /// fills with <see cref="FillWithinAsync"/>, which takes the lock first).
    /// </summary>
    /// <remarks>
    /// Until the last round trip this transaction holds only rows nobody else can see (the prompt, its audit and outbox
    /// rows) and key-share locks, so nobody holding the event-order lock can be waiting for it (see TimelineWriter); it
    /// locks the stream's agent_link_state row only after the lock, in the order every lock holder takes them. If the
    /// stream lost the machine meanwhile, nothing is numbered: the prompt stays SENT with an unnumbered outbox row, which
    /// the machine's next fill (the new owner's, signalled after commit, or the next stream's at its handshake) numbers.
    /// </remarks>
    public async Task<FillResult?> FillJustQueuedAsync(
        RelayDbContext db, MachineIdentity machine, Guid connectionId, Prompt prompt, IReadOnlyList<TimelineEntry> entries,
        CancellationToken cancellationToken)
    {
        var (connection, transaction) = TimelineWriter.Current(db);
        PendingWork pending;
        long queuedPrompts;
        Guid? claude = null;
        await using (var look = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(Pending) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } },
                new NpgsqlBatchCommand(CurrentClaude) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = prompt.RelaySessionId } } },
            },
        })
        {
            await using var reader = await look.ExecuteReaderAsync(cancellationToken);
            (pending, queuedPrompts) = await ReadPendingAsync(reader, cancellationToken);
            if (await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
            {
                claude = reader.GetGuid(0);
            }
        }

        // Counted before the prompt is saved: nothing else may be queued, or it goes first, under the lock.
        var context = new IngestContext(db, machine, new MachineSessionCache(), time.GetUtcNow());
        if ((pending & ~PendingWork.Outbox) != PendingWork.None || queuedPrompts != 0
            || prompt.Status != PromptStatus.Queued || prompt.ExpiresAt <= context.Now)
        {
            return null;
        }

        await AddPromptAsync(context, prompt, claude, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in timeline.LockAndAppendCommands([.. entries, .. context.Events.Select(ToEntry)]))
        {
            batch.BatchCommands.Add(command);
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockState) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Number)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = machine.Id },
                new NpgsqlParameter<Guid> { TypedValue = connectionId },
                new NpgsqlParameter<DateTimeOffset> { TypedValue = context.Now },
            },
        });

        // The commit rides in the same round trip: PostgreSQL runs it right after the numbering, so the lock is never
        // held while this process is scheduled to read a result and send the next statement (on a busy machine that
        // wait, not the statements, was most of the time the lock was held). An error stops the round trip before it.
        batch.BatchCommands.Add(TimelineWriter.CommitCommand());
        FillResult result;
        await using (var numbered = await batch.ExecuteReaderAsync(cancellationToken))
        {
            // Past the lock's, the entries' and the row lock's results to the numbered rows.
            for (var i = 0; i < batch.BatchCommands.Count - 2; i++)
            {
                await numbered.NextResultAsync(cancellationToken);
            }

            result = Result(context, await ReadNumberedAsync(numbered, cancellationToken));
            // The commit's outcome: a failure to commit surfaces here, not silently.
            while (await numbered.NextResultAsync(cancellationToken))
            {
            }
        }

        return result;
    }

    private static TimelineEntry ToEntry(IngestEvent e) =>
        new(e.MachineId, e.RelaySessionId, SnakeCaseEnumConverter<EventKind>.ToText(e.Kind), e.AgentEventId, e.OccurredAt, e.Payload);
}
