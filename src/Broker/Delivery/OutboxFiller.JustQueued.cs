using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class OutboxFiller
{
    // Pending for the machines of the sessions a condition on sessions s selects ({where}, its key $1): a writer can look
    // before it knows the machine, in the round trip that resolves its session.
    private const string PendingBySessions = "SELECT m.id, " + PendingColumns + " FROM (SELECT DISTINCT s.machine_id AS id FROM sessions s WHERE {where}) m";

    /// <summary>
    /// The first look of <see cref="FillJustQueuedAsync"/> (what is queued for the machine), for a writer that reads it
    /// before its transaction, in one round trip with its session: for the machine of each session that
    /// <paramref name="sessionsWhere"/> (a condition on <c>sessions s</c>, given its key's placeholder) selects with
    /// <paramref name="key"/>. Read the result with <see cref="ReadQueuedWorkAsync"/>.
    /// </summary>
    public static NpgsqlBatchCommand QueuedWorkCommand(Func<string, string> sessionsWhere, Guid key) =>
        new(PendingBySessions.Replace("{where}", sessionsWhere("$1"), StringComparison.Ordinal))
        {
            Parameters = { new NpgsqlParameter<Guid> { TypedValue = key } },
        };

    /// <summary>The result of <see cref="QueuedWorkCommand"/>, by machine.</summary>
    public static async Task<Dictionary<Guid, QueuedWork>> ReadQueuedWorkAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Guid, QueuedWork>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var (pending, queuedPrompts) = ReadPending(reader, 1);
            found[reader.GetGuid(0)] = new QueuedWork(pending, queuedPrompts);
        }

        return found;
    }

    /// <summary>
    /// The fill of a writer that is queuing <paramref name="prompt"/> (added to <paramref name="db"/>, not yet saved) for a
    /// machine whose stream is on this replica, when nothing else is queued for the machine besides unnumbered outbox
    /// rows. It stores the prompt already SENT, with its outbox row, before taking the event-order lock, then sends the
    /// lock, the log's head, <paramref name="entries"/>, the prompt's SENT entry, the stream's row lock, the numbering and
    /// COMMIT in one round trip, so the lock is held only while PostgreSQL runs them. On return the writer's transaction is
    /// committed, and the result carries the log rows it added (<see cref="FillResult.Committed"/>), for the watch feed.
    /// Returns null, having saved nothing and committed nothing, when anything else is queued (the caller then saves and
    /// fills with <see cref="FillWithinAsync"/>, which takes the lock first).
    /// <paramref name="looked"/>: what the writer already read of the machine's queue and the session's Claude id, in an
    /// earlier round trip of its own (<see cref="QueuedWorkCommand"/>); when null, this reads them first.
    /// </summary>
    /// <remarks>
    /// Until the last round trip this transaction holds only rows nobody else can see (the prompt, its audit and outbox
    /// rows) and key-share locks, so nobody holding the event-order lock can be waiting for it (see TimelineWriter); it
    /// locks the stream's agent_link_state row only after the lock, in the order every lock holder takes them. If the
    /// stream lost the machine meanwhile, nothing is numbered: the prompt stays SENT with an unnumbered outbox row, which
    /// the machine's next fill (the new owner's, signalled after commit, or the next stream's at its handshake) numbers.
    /// The look is only a choice of path, never a guarantee: work queued after it, by then or by the lock, is its
    /// writer's to fill or signal, whether the look was read in this transaction or before it.
    /// </remarks>
    public async Task<FillResult?> FillJustQueuedAsync(
        RelayDbContext db, MachineIdentity machine, Guid connectionId, Prompt prompt, IReadOnlyList<TimelineEntry> entries,
        JustQueuedLook? looked, CancellationToken cancellationToken)
    {
        var (connection, transaction) = TimelineWriter.Current(db);
        var ((pending, queuedPrompts), claude) = looked ?? await LookAsync(connection, transaction, machine, prompt, cancellationToken);

        // Counted before the prompt is saved: nothing else may be queued, or it goes first, under the lock.
        var context = new IngestContext(db, machine, new MachineSessionCache(), time.GetUtcNow());
        if ((pending & ~PendingWork.Outbox) != PendingWork.None || queuedPrompts != 0
            || prompt.Status != PromptStatus.Queued || prompt.ExpiresAt <= context.Now)
        {
            return null;
        }

        await AddPromptAsync(context, prompt, claude, cancellationToken);
        // The inserts (the prompt, its audit record, its outbox row) ride in the same round trip, before the lock: still
        // only new rows when the lock is taken. Whatever ChangeCommands cannot render is saved first, as before.
        var changes = ChangeCommands.TryRender(db, generatedKeysUnread: true);
        if (changes is null)
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in changes ?? [])
        {
            batch.BatchCommands.Add(command);
        }

        // With the log's head after the lock: the rows this commit adds are handed to the watch feed (LiveStreamFill).
        var append = timeline.LockHeadAndAppend([.. entries, .. context.Events.Select(ToEntry)]);
        foreach (var command in append.Commands)
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

        // The transaction's id is the row version of the prompt it inserts: the stream may store the receipt from a copy.
        batch.BatchCommands.Add(AgentLink.StreamMemory.TransactionIdCommand());

        // The commit rides in the same round trip: PostgreSQL runs it right after the numbering, so the lock is never
        // held while this process is scheduled to read a result and send the next statement (on a busy machine that
        // wait, not the statements, was most of the time the lock was held). An error stops the round trip before it.
        batch.BatchCommands.Add(TimelineWriter.CommitCommand());
        FillResult result;
        try
        {
            await using var results = await batch.ExecuteReaderAsync(cancellationToken);
            // Past the inserts' results to the lock's; the append reads the head and the entries' ids.
            for (var i = 0; i < (changes?.Count ?? 0); i++)
            {
                await results.NextResultAsync(cancellationToken);
            }

            var appended = await append.ReadAsync(results, cancellationToken);
            await results.NextResultAsync(cancellationToken); // the row lock's
            await results.NextResultAsync(cancellationToken); // the numbered rows
            var filled = Result(context, await ReadNumberedAsync(results, cancellationToken));
            await results.NextResultAsync(cancellationToken);
            await results.ReadAsync(cancellationToken);
            var version = results.GetFieldValue<uint>(0);
            // The commit's outcome: a failure to commit surfaces here, not silently.
            while (await results.NextResultAsync(cancellationToken))
            {
            }

            // The feed's handover publishes the Events signal; published again, it would make the feed read the log.
            // Its copy is what the insert wrote (numbering does not touch prompts): taken before the writer maps the prompt.
            var sent = changes is null ? null : (Prompt)db.Entry(prompt).CurrentValues.ToObject();
            sent?.Version = version;
            result = filled with { Topics = [.. filled.Topics.Where(static t => t != BrokerSignals.Events)], Committed = appended, Sent = sent };
        }
        catch (Exception ex) when (PreparedStatementRepair.Failing(connection, ex))
        {
            throw; // never: the filter only marks the connection
        }
        catch (PostgresException ex) when (changes is not null && ChangeCommands.Translate(ex, changes) is { } saveError)
        {
            // As SaveChanges would have reported it: a concurrent retry's prompt id is a DbUpdateException to the sender.
            throw saveError;
        }

        if (changes is not null)
        {
            ChangeCommands.Accept(db);
        }

        return result;
    }

    private static async Task<JustQueuedLook> LookAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, MachineIdentity machine, Prompt prompt, CancellationToken cancellationToken)
    {
        await using var look = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(Pending) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } },
                new NpgsqlBatchCommand(CurrentClaude) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = prompt.RelaySessionId } } },
            },
        };
        await using var reader = await look.ExecuteReaderAsync(cancellationToken);
        var (pending, queuedPrompts) = await ReadPendingAsync(reader, cancellationToken);
        Guid? claude = null;
        if (await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
        {
            claude = reader.GetGuid(0);
        }

        return new JustQueuedLook(new QueuedWork(pending, queuedPrompts), claude);
    }

    private static TimelineEntry ToEntry(IngestEvent e) =>
        new(e.MachineId, e.RelaySessionId, SnakeCaseEnumConverter<EventKind>.ToText(e.Kind), e.AgentEventId, e.OccurredAt, e.Payload);
}

/// <summary>What is queued for a machine, as a fill's first look reads it: the kinds of work, and how many prompts.</summary>
internal readonly record struct QueuedWork(PendingWork Pending, long QueuedPrompts);

/// <summary>
/// What <see cref="OutboxFiller.FillJustQueuedAsync"/> needs to know before it stores a prompt: what is queued for the
/// machine, and the session's current Claude id (the delivery names it).
/// </summary>
internal readonly record struct JustQueuedLook(QueuedWork Queued, Guid? ClaudeSessionId);
