using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.AgentLink;

/// <summary>
/// A batch alone in its group, whose lookups the stream's last committed batch already read (StreamMemory), is stored in
/// one round trip: the lock, the log's head, checks that the fence and every remembered row are still as remembered,
/// the batch's writes and COMMIT. A group otherwise costs two: the first only to lock and read.
/// </summary>
/// <remarks>
/// <para>
/// Why: a prompt's reply arrives while its receipt's group is still committing, waits for it, and then paid a round
/// trip to read back the session and the prompt that very receipt had just written. On two busy cores each round trip is
/// mostly waiting for a core (docs/benchmarks.md).
/// </para>
/// <para>
/// Safe because nothing remembered is trusted: the batch is prepared from the copies with its context offline
/// (OfflineGuard), so any lookup they do not cover ends the attempt before anything is sent; then, after the event-order
/// lock (which every other writer of sessions and prompts takes first, so the rows cannot change until COMMIT), the
/// round trip checks the fence row (this stream, the remembered position, not revoked) and the row version of every
/// copy, and a check that fails raises 21000 (cardinality violation) before the writes. A reply assumed new that was
/// stored meanwhile fails on its primary key. Any error from PostgreSQL leaves the transaction uncommitted (COMMIT is
/// the round trip's last statement), and the batch is stored as before, with its lookups under the lock.
/// </para>
/// </remarks>
internal sealed partial class InboundProcessor
{
    // FOR UPDATE cannot be combined with count(*): the rows are locked in the CTE, as the group's fence locks them.
    private const string FenceCheck = """
        WITH fence AS (
            SELECT 1 FROM agent_link_state s JOIN machines m ON m.id = s.machine_id
            WHERE s.machine_id = $1 AND s.connection_id = $2 AND s.last_inbound_seq = $3 AND m.revoked_at IS NULL
            FOR UPDATE OF s)
        SELECT CASE WHEN count(*) = 1 THEN 1 ELSE (SELECT 1 UNION ALL SELECT 1) END FROM fence
        """;

    private const string VersionsCheck = """
        SELECT CASE WHEN
            (SELECT count(*) FROM unnest($1::uuid[], $2::xid[]) AS c(id, v) JOIN sessions t ON t.id = c.id AND t.xmin = c.v)
          + (SELECT count(*) FROM unnest($3::uuid[], $4::xid[]) AS c(id, v) JOIN prompts t ON t.id = c.id AND t.xmin = c.v)
          = $5 THEN 1 ELSE (SELECT 1 UNION ALL SELECT 1) END
        """;

    /// <summary>
    /// Most messages in a batch tried from memory. The round trip saved matters to small batches (a receipt, a reply, a
    /// hook or two: the interactive path); a large one costs more to prepare than a round trip, and an attempt that
    /// needs a lookup after all (a session entry needs the session's lineage) prepares it twice.
    /// </summary>
    internal const int MaxMessagesFromMemory = 16;

    private readonly bool _observed = observers.Any();
    private long _fromMemory;
    private long _memoryRefused;

    /// <summary>Batches stored from their stream's memory in one round trip (for tests).</summary>
    internal long BatchesFromMemory => Interlocked.Read(ref _fromMemory);

    /// <summary>Attempts whose round trip found the memory out of date (for tests).</summary>
    internal long MemoryRefused => Interlocked.Read(ref _memoryRefused);

    /// <summary>
    /// Stores <paramref name="pending"/> from its stream's memory; false when it cannot (nothing to recall, a lookup
    /// the memory does not cover, or the round trip found it out of date): then nothing was stored, and it goes the usual way.
    /// </summary>
    private async Task<bool> TryCommitFromMemoryAsync(PendingBatch pending, CancellationToken cancellationToken)
    {
        var batch = pending.Batch;
        if (batch.Memory is not { } memory || _observed || batch.RejectAll is not null || batch.Items.Count > MaxMessagesFromMemory)
        {
            batch.Memory?.Forget();
            return false;
        }

        var names = GroupPreload.Named(batch);
        if (memory.Recall(names.Sessions, names.Prompts) is not { } recalled)
        {
            return false;
        }

        var started = time.GetTimestamp();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.Database.AutoSavepointsEnabled = false;
        PreparedBatch prepared;
        db.Offline = true;
        try
        {
            foreach (var session in recalled.Sessions)
            {
                db.Sessions.Attach(session.Entity);
            }

            foreach (var prompt in recalled.Prompts)
            {
                db.Prompts.Attach(prompt.Entity);
            }

            // Assumed not stored yet: a reply that was is refused by its primary key in the round trip.
            prepared = await PrepareAsync(db, batch, recalled.CommittedSeq, preload: null, storedReplies: [], cancellationToken);
        }
        catch (OfflineAccessException)
        {
            return false; // it needs a lookup the memory does not cover: nothing was sent
        }
        finally
        {
            db.Offline = false;
        }

        if (prepared.Context.Changes is null)
        {
            return false; // its changes need a SaveChanges of their own, which would have read the database
        }

        var tracked = StreamMemory.TrackedBy(db);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        long head;
        uint xid;
        StoredEvents written;
        try
        {
            // Nothing is sent yet: BEGIN goes with the round trip below.
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await using var commands = new NpgsqlBatch(connection, (NpgsqlTransaction)transaction.GetDbTransaction());
            commands.BatchCommands.Add(EventIngestWriter.EventOrderLockCommand());
            commands.BatchCommands.Add(TimelineWriter.HeadCommand());
            commands.BatchCommands.Add(Fence(batch, recalled.CommittedSeq));
            commands.BatchCommands.Add(Versions(recalled));
            commands.BatchCommands.Add(StreamMemory.TransactionIdCommand());
            var write = EventIngestWriter.Add(commands, prepared.Context.Events, prepared.Positions, prepared.Alongside(), [TimelineWriter.Commit], time.GetUtcNow().ToUniversalTime());

            await using var reader = await commands.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken); // past the lock's result
            await reader.ReadAsync(cancellationToken);
            head = reader.GetInt64(0);
            await reader.NextResultAsync(cancellationToken); // the checks raise when their row is read
            await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            xid = reader.GetFieldValue<uint>(0);
            await reader.NextResultAsync(cancellationToken);
            written = await EventIngestWriter.ReadAsync(reader, write, cancellationToken);
        }
        catch (PostgresException ex)
        {
            // Rolled back (COMMIT had not run): out of date, or a failure the usual way reports as it always did.
            Interlocked.Increment(ref _memoryRefused);
            AgentLinkLog.MemoryOutOfDate(logger, batch.Machine.Name, ex.SqlState);
            return false;
        }

        ChangeCommands.Accept(db);
        var stored = prepared.Stored(written.Events, 0, written.ReceivedAt);
        var versions = recalled.Sessions.ToDictionary(s => s.Entity.Id, s => s.Version);
        memory.Remember(stored.Outcome.CommittedSeq, xid, tracked, versions);
        db.ChangeTracker.Clear();
        Interlocked.Increment(ref _fromMemory);
        Completed([pending], [stored], head, time.GetElapsedTime(started));
        return true;
    }

    private static NpgsqlBatchCommand Fence(InboundBatch batch, long committedSeq) => new(FenceCheck)
    {
        Parameters =
        {
            new NpgsqlParameter<Guid> { TypedValue = batch.Machine.Id },
            new NpgsqlParameter<Guid> { TypedValue = batch.ConnectionId },
            new NpgsqlParameter<long> { TypedValue = committedSeq },
        },
    };

    private static NpgsqlBatchCommand Versions(StreamMemory.Recalled recalled) => new(VersionsCheck)
    {
        Parameters =
        {
            new NpgsqlParameter<Guid[]> { TypedValue = [.. recalled.Sessions.Select(s => s.Entity.Id)] },
            new NpgsqlParameter<uint[]> { TypedValue = [.. recalled.Sessions.Select(s => s.Version)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Xid },
            new NpgsqlParameter<Guid[]> { TypedValue = [.. recalled.Prompts.Select(p => p.Entity.Id)] },
            new NpgsqlParameter<uint[]> { TypedValue = [.. recalled.Prompts.Select(p => p.Version)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Xid },
            new NpgsqlParameter<long> { TypedValue = recalled.Sessions.Count + recalled.Prompts.Count },
        },
    };
}
