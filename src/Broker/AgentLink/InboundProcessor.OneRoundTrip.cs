using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

/// <summary>
/// A group of batches that carry hook events alone sends every batch's writes in one round trip, ending with COMMIT,
/// instead of one round trip and one savepoint per batch.
/// </summary>
/// <remarks>
/// <para>
/// Batch by batch, a group of n batches was n + 1 round trips under the event-order lock, each with a RELEASE and a
/// SAVEPOINT. At 10,000 events/s from ten agents a group holds about ten batches, so the lock was held for ten round
/// trips and every stream's ack waited for all of them.
/// </para>
/// <para>
/// Safe because nothing one batch of such a group reads can be written by another: a hook event touches only its own
/// machine's sessions (the group holds at most one batch per machine, its fence checked as before), and the one key
/// shared across machines, a Claude session id, is saved with its new session as soon as a batch names it (a segment is
/// never deferred), so a later batch of the group finds it as it would batch by batch; it is also session_segments'
/// primary key. The batches' lookups run in order as before; only their last statements (changes, event rows,
/// positions, outbox acknowledgements) wait for the group's single round trip.
/// </para>
/// <para>
/// A failure anywhere (a conflict, a rule of the database, a message that breaks it) rolls the whole transaction back,
/// and the group goes through batch by batch (CommitGroupAsync), where the failing batch fails alone. A batch whose
/// fence refuses it is completed at once, as before, and left out. Nothing is completed before the COMMIT returned.
/// </para>
/// </remarks>
internal sealed partial class InboundProcessor
{
    /// <summary>Whether the group may share one round trip: two batches or more, of different machines, hook events alone.</summary>
    private static bool CanShareOneRoundTrip(List<PendingBatch> group)
    {
        if (group.Count < 2)
        {
            return false;
        }

        var machines = new HashSet<Guid>();
        foreach (var pending in group)
        {
            var batch = pending.Batch;
            if (!machines.Add(batch.Machine.Id) || batch.RejectAll is not null)
            {
                return false;
            }

            foreach (var item in batch.Items)
            {
                if (item.RejectReason is not null || item.Message.BodyCase != AgentMessage.BodyOneofCase.HookEvent)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Stores the group in one transaction whose writes go in one round trip with its COMMIT; false when it was rolled
    /// back (the batches not refused at their fence are not completed, and must be stored batch by batch).
    /// </summary>
    private async Task<bool> TryCommitInOneRoundTripAsync(List<PendingBatch> group, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var prepared = new PreparedBatch?[group.Count];
        var firstIndex = new int[group.Count];
        StoredEvents written;
        long head;
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            db.Database.AutoSavepointsEnabled = false;
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var preload = GroupPreload.For(group.Select(p => p.Batch));
            (var fences, head, _) = await LockFencesAsync(db, eventOrderLock: true, [.. group.Select(p => p.Batch.Machine.Id)], preload, [], cancellationToken);
            for (var i = 0; i < group.Count; i++)
            {
                long position;
                try
                {
                    position = Admit(group[i].Batch, fences);
                }
                catch (Exception ex) when (ex is ConnectionReplacedException or MachineRevokedException or PredecessorNotStoredException)
                {
                    group[i].Completion.TrySetException(ex); // refused before it did anything
                    continue;
                }

                try
                {
                    prepared[i] = await PrepareAsync(db, group[i].Batch, position, preload, storedReplies: null, cancellationToken);
                }
                finally
                {
                    // Its changes are rendered: the next batch must not save them again or look them up stale.
                    preload.Forget(db);
                    db.ChangeTracker.Clear();
                }
            }

            var rows = new List<IngestEvent>();
            var positions = new List<InboundPosition>();
            var alongside = new List<NpgsqlBatchCommand>();
            for (var i = 0; i < group.Count; i++)
            {
                if (prepared[i] is { } batch)
                {
                    firstIndex[i] = rows.Count;
                    rows.AddRange(batch.Context.Events);
                    positions.AddRange(batch.Positions);
                    alongside.AddRange(batch.Alongside());
                }
            }

            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            var tx = (NpgsqlTransaction)transaction.GetDbTransaction();
            written = await events.WriteAsync(connection, tx, rows, positions, alongside, [TimelineWriter.Commit], cancellationToken);
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            AgentLinkLog.GroupSplit(logger, ex, group.Count);
            return false;
        }

        // The insert returns the new events in the order of the combined list: each batch's are a run of it.
        var stored = new (BatchOutcome Outcome, IngestContext Context, List<TimelineRow> Rows)?[group.Count];
        var next = 0;
        for (var i = 0; i < group.Count; i++)
        {
            if (prepared[i] is not { } batch)
            {
                continue;
            }

            var end = firstIndex[i] + batch.Context.Events.Count;
            var from = next;
            while (next < written.Events.Count && written.Events[next].Index < end)
            {
                next++;
            }

            stored[i] = batch.Stored(written.Events.Skip(from).Take(next - from), firstIndex[i], written.ReceivedAt);
        }

        Completed(group, stored, head, time.GetElapsedTime(started));
        return true;
    }
}
