using Npgsql;
using Relay.Broker.Delivery;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Watch;
using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.AgentLink;

/// <summary>
/// Numbers work for a machine inside the transaction that queued it, when the machine's stream is on this replica: the
/// stream then sends it as soon as the writer commits, instead of being signalled and running a fill transaction of its
/// own (which waits for the same event-order lock). Otherwise, or when the stream no longer owns the machine, the
/// writer's MachineOutbound signal leaves the work to whichever stream owns it, as before.
/// </summary>
internal sealed class LiveStreamFill(
    AgentConnectionRegistry registry, OutboxFiller filler, TimelineWriter timeline, CommittedEvents committedEvents, BrokerSignals signals)
{
    /// <summary>
    /// Inside the writer's transaction, after its work is saved and while it holds the event-order lock: numbers what is
    /// queued for <paramref name="machine"/> if its stream is here. Pass the result to <see cref="AfterCommit"/>.
    /// </summary>
    public Task<PendingFill?> FillAsync(RelayDbContext db, MachineIdentity machine, CancellationToken cancellationToken) =>
        FillAsync(db, machine, leading: [], justQueued: null, cancellationToken);

    /// <summary>
    /// The same, sending <paramref name="leading"/> (which take the event-order lock: TimelineWriter.LockAndAppendCommands)
    /// in the same round trip as the fill's first statements, or alone when the stream is not here.
    /// <paramref name="justQueued"/>: the prompt the writer stored, which the fill then need not look up.
    /// </summary>
    public async Task<PendingFill?> FillAsync(
        RelayDbContext db, MachineIdentity machine, IReadOnlyList<NpgsqlBatchCommand> leading, Prompt? justQueued, CancellationToken cancellationToken)
    {
        if (registry.Find(machine.Id) is { } connection)
        {
            return new PendingFill(connection, machine, await filler.FillWithinAsync(db, machine, connection.Id, leading, justQueued, cancellationToken));
        }

        if (leading.Count > 0)
        {
            var (npgsqlConnection, transaction) = TimelineWriter.Current(db);
            await using var batch = new NpgsqlBatch(npgsqlConnection, transaction);
            foreach (var command in leading)
            {
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        return null;
    }

    /// <summary>
    /// For a writer queuing <paramref name="prompt"/> (added to <paramref name="db"/> with the writer's other rows, not yet
    /// saved): saves them, appends <paramref name="entries"/> (taking the event-order lock), numbers the prompt for the
    /// machine's stream when it is here, and commits the writer's transaction. When the stream is here and nothing else is
    /// queued for the machine, the prompt is stored SENT and the lock is taken only in the last round trip, which ends
    /// with COMMIT (OutboxFiller.FillJustQueuedAsync). When the stream is elsewhere, the lock, the entries and COMMIT are
    /// one round trip after the save. Otherwise the lock comes right after the save, as for any fill, then COMMIT.
    /// <paramref name="looked"/>: what the writer already read of the machine's queue (see OutboxFiller.QueuedWorkCommand),
    /// or null for the fill to read it.
    /// </summary>
    public async Task<PendingFill?> QueueAndCommitAsync(
        RelayDbContext db, MachineIdentity machine, IReadOnlyList<TimelineEntry> entries, Prompt prompt, JustQueuedLook? looked,
        CancellationToken cancellationToken)
    {
        var connection = registry.Find(machine.Id);
        if (connection is not null
            && await filler.FillJustQueuedAsync(db, machine, connection.Id, prompt, entries, looked, cancellationToken) is { } result)
        {
            return new PendingFill(connection, machine, result);
        }

        await db.SaveChangesAsync(cancellationToken);
        if (connection is null)
        {
            var (npgsqlConnection, transaction) = TimelineWriter.Current(db);
            await using var batch = new NpgsqlBatch(npgsqlConnection, transaction);
            foreach (var command in timeline.LockAndAppendCommands(entries))
            {
                batch.BatchCommands.Add(command);
            }

            batch.BatchCommands.Add(TimelineWriter.CommitCommand());
            await batch.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }

        var filled = await FillAsync(db, machine, timeline.LockAndAppendCommands(entries), prompt, cancellationToken);
        await db.Database.CommitTransactionAsync(cancellationToken);
        return filled;
    }

    /// <summary>
    /// Once the writer committed: hands the numbered messages to the stream, or signals the machine's owner, and hands the
    /// log rows the fill read back (OutboxFiller.FillJustQueuedAsync) to the watch feed. Returns true when it did: the
    /// feed's handover published BrokerSignals.Events, and the writer must not publish it again (the feed would then read
    /// the log for rows it already has).
    /// </summary>
    public bool AfterCommit(PendingFill? pending, Guid machineId)
    {
        if (pending is { Result.LastSeq: not null })
        {
            pending.Connection.Filled(filler.Filled(pending.Machine, pending.Result));
        }
        else
        {
            signals.Publish(BrokerSignals.MachineOutbound(machineId.ToString("D")));
        }

        foreach (var topic in pending?.Result.Topics ?? [])
        {
            signals.Publish(topic);
        }

        if (pending?.Result.Committed is not { Rows.Count: > 0 } committed)
        {
            return false;
        }

        committedEvents.Committed(committed.Head, committed.Rows);
        return true;
    }
}

/// <summary>A fill done inside an uncommitted transaction, for <see cref="LiveStreamFill.AfterCommit"/>.</summary>
internal sealed record PendingFill(AgentConnection Connection, MachineIdentity Machine, FillResult Result);
