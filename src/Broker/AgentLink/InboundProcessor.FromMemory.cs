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
/// <para>
/// The copies are those the stream's previous batch anticipated before its own round trip (StreamMemory.Anticipate),
/// so the batch may be sent while that one still commits (InboundProcessor.Pipeline.cs): a copy it writes is then checked
/// against an event row of its transaction instead of a row version not known yet.
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

    // A version of 0 (InvalidTransactionId, never a row's xmin) is that of the stream's previous batch, whose commit had
    // not returned when this one was prepared: the xmin of an event row it inserted (never updated), none if it failed.
    // Each copy is looked up by its key in a subquery of its own, never joined: Npgsql prepares this statement, and a
    // plan PostgreSQL made while the tables were nearly empty joined by hashing a scan of the whole prompts table, which
    // then ran, under the event-order lock, for every batch from memory (0.37 ms each with 2,000 prompts stored).
    private const string VersionsCheck = """
        WITH last AS (SELECT xmin AS v FROM events WHERE machine_id = $6 AND agent_event_id = $7)
        SELECT CASE WHEN
            (SELECT count(*) FROM unnest($1::uuid[], $2::xid[]) AS c(id, v)
                WHERE (SELECT t.xmin FROM sessions t WHERE t.id = c.id) = CASE WHEN c.v = '0'::xid THEN (SELECT v FROM last) ELSE c.v END)
          + (SELECT count(*) FROM unnest($3::uuid[], $4::xid[]) AS c(id, v)
                WHERE (SELECT t.xmin FROM prompts t WHERE t.id = c.id) = CASE WHEN c.v = '0'::xid THEN (SELECT v FROM last) ELSE c.v END)
          = $5 THEN 1 ELSE (SELECT 1 UNION ALL SELECT 1) END
        """;

    // The check runs on PostgreSQL's generic plan, made once per connection. Left to choose, PostgreSQL planned it anew
    // at every execution (a custom plan looks cheaper because it sees how many copies the arrays hold), which cost
    // 0.3–0.45 ms of a batch's time under the event-order lock, more than the event insert (statement log of
    // prompt-roundtrip). Both plans look each copy up by its primary key. SET LOCAL ends with the transaction (or the
    // savepoint it is rolled back to), and the statements after the check go back to the configured choice.
    private const string GenericPlans = "SET LOCAL plan_cache_mode TO force_generic_plan";
    private const string ConfiguredPlans = "SET LOCAL plan_cache_mode TO DEFAULT";

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
    /// Prepares <paramref name="pending"/> from its stream's memory and sends its round trip; null when it cannot (nothing
    /// to recall, or a lookup the memory does not cover): then nothing was sent, and it goes the usual way. The attempt's
    /// <see cref="MemoryAttempt.RoundTrip"/> says whether it committed (false: rolled back, out of date).
    /// </summary>
    private async Task<MemoryAttempt?> StartFromMemoryAsync(PendingBatch pending, CancellationToken cancellationToken)
    {
        var batch = pending.Batch;
        if (batch.Memory is not { } memory || _observed || batch.RejectAll is not null || batch.Items.Count > MaxMessagesFromMemory)
        {
            batch.Memory?.Forget();
            return null;
        }

        var names = GroupPreload.Named(batch);
        if (memory.Recall(names.Sessions, names.Prompts) is not { } recalled || recalled.CommittedSeq < batch.After)
        {
            return null; // nothing to recall, or a position before the stream's earlier batches: the usual way checks it
        }

        var started = time.GetTimestamp();
        var db = await databases.CreateDbContextAsync(cancellationToken);
        var sent = false;
        try
        {
            db.Database.AutoSavepointsEnabled = false;
            // A copy the stream's previous batch writes has the version of a commit that may not have returned yet: the
            // round trip checks it against an event row of that commit, and its update names the key alone.
            var unresolved = new HashSet<object>(ReferenceEqualityComparer.Instance);
            var before = recalled.Sessions.Select(s => s.WrittenBy).Concat(recalled.Prompts.Select(p => p.WrittenBy))
                .Where(c => c is not null && !c.TryGetXid(out _)).Distinct().ToList();
            if (before.Count > 1)
            {
                return null; // never: a stream has one batch in flight before this one
            }

            PreparedBatch prepared;
            db.Offline = true;
            try
            {
                foreach (var session in recalled.Sessions)
                {
                    db.Sessions.Attach(session.Entity);
                    if (!session.TryResolve(out _))
                    {
                        unresolved.Add(session.Entity);
                    }
                }

                foreach (var prompt in recalled.Prompts)
                {
                    if (prompt.TryResolve(out var version))
                    {
                        prompt.Entity.Version = version;
                    }
                    else
                    {
                        unresolved.Add(prompt.Entity);
                    }

                    db.Prompts.Attach(prompt.Entity);
                }

                // Assumed not stored yet: a reply that was is refused by its primary key in the round trip.
                prepared = await PrepareAsync(db, batch, recalled.CommittedSeq, preload: null, storedReplies: [], cancellationToken, unresolved);
            }
            catch (OfflineAccessException)
            {
                return null; // it needs a lookup the memory does not cover: nothing was sent
            }
            finally
            {
                db.Offline = false;
            }

            if (prepared.Context.Changes is null)
            {
                return null; // its changes need a SaveChanges of their own, which would have read the database
            }

            // Nothing is sent yet: BEGIN goes with the round trip.
            var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var commands = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
            commands.BatchCommands.Add(EventIngestWriter.EventOrderLockCommand());
            commands.BatchCommands.Add(TimelineWriter.HeadCommand());
            commands.BatchCommands.Add(Fence(batch, recalled.CommittedSeq));
            commands.BatchCommands.Add(new NpgsqlBatchCommand(GenericPlans));
            commands.BatchCommands.Add(Versions(recalled, before.SingleOrDefault()));
            commands.BatchCommands.Add(new NpgsqlBatchCommand(ConfiguredPlans));
            commands.BatchCommands.Add(StreamMemory.TransactionIdCommand());
            var write = EventIngestWriter.Add(commands, prepared.Context.Events, prepared.Positions, prepared.Alongside(), [TimelineWriter.Commit], time.GetUtcNow().ToUniversalTime());
            // What this batch leaves, for the stream's next one, which may be prepared while this one commits.
            var commit = new PendingCommit(prepared.Context.Events is [var first, ..] ? (first.MachineId, first.AgentEventId) : null);
            memory.Anticipate(prepared.Highest, commit, StreamMemory.TrackedBy(db, copies: true), recalled);
            var attempt = new MemoryAttempt(pending, db, transaction, commands, prepared, commit, started);
            attempt.RoundTrip = SendAsync(attempt, write, cancellationToken);
            sent = true;
            return attempt;
        }
        finally
        {
            if (!sent)
            {
                await db.DisposeAsync();
            }
        }
    }

    /// <summary>The attempt's one round trip: true when it committed, false when PostgreSQL rolled it back.</summary>
    private async Task<bool> SendAsync(MemoryAttempt attempt, EventIngestWriter.PendingWrite write, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await attempt.Commands.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken); // past the lock's result
            await reader.ReadAsync(cancellationToken);
            attempt.Head = reader.GetInt64(0);
            // The checks raise when their row is read. The SET statements return no result: NextResult passes them.
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            attempt.Xid = reader.GetFieldValue<uint>(0);
            await reader.NextResultAsync(cancellationToken);
            attempt.Written = await EventIngestWriter.ReadAsync(reader, write, cancellationToken);
            return true;
        }
        catch (PostgresException ex)
        {
            // Rolled back (COMMIT had not run): out of date, or a failure the usual way reports as it always did.
            PreparedStatementRepair.MarkFailed(attempt.Db.Database.GetDbConnection());
            Interlocked.Increment(ref _memoryRefused);
            AgentLinkLog.MemoryOutOfDate(logger, attempt.Pending.Batch.Machine.Name, ex.SqlState);
            return false;
        }
        finally
        {
            // At once: a failed transaction holds the event-order lock until its ROLLBACK, and a batch may wait behind it.
            await attempt.Transaction.DisposeAsync();
        }
    }

    /// <summary>After the attempt's round trip committed: the stream's memory learns the commit, and the batch completes.</summary>
    private void Finish(MemoryAttempt attempt)
    {
        ChangeCommands.Accept(attempt.Db);
        var stored = attempt.Prepared.Stored(attempt.Written!.Events, 0, attempt.Written.ReceivedAt);
        attempt.Commit.Commit(attempt.Xid);
        attempt.Db.ChangeTracker.Clear();
        Interlocked.Increment(ref _fromMemory);
        Completed([attempt.Pending], [stored], attempt.Head, time.GetElapsedTime(attempt.Started));
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

    private static NpgsqlBatchCommand Versions(StreamMemory.Recalled recalled, PendingCommit? before) => new(VersionsCheck)
    {
        Parameters =
        {
            new NpgsqlParameter<Guid[]> { TypedValue = [.. recalled.Sessions.Select(s => s.Entity.Id)] },
            new NpgsqlParameter<uint[]> { TypedValue = [.. recalled.Sessions.Select(Expected)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Xid },
            new NpgsqlParameter<Guid[]> { TypedValue = [.. recalled.Prompts.Select(p => p.Entity.Id)] },
            new NpgsqlParameter<uint[]> { TypedValue = [.. recalled.Prompts.Select(Expected)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Xid },
            new NpgsqlParameter<long> { TypedValue = recalled.Sessions.Count + recalled.Prompts.Count },
            new NpgsqlParameter { Value = before?.Witness?.MachineId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid },
            new NpgsqlParameter { Value = before?.Witness?.AgentEventId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid },
        },
    };

    /// <summary>The row version a copy must still have; 0 (never a row's xmin) for that of a commit not returned yet.</summary>
    private static uint Expected<T>(StreamMemory.Known<T> known) => known.TryResolve(out var version) ? version : 0;

}
