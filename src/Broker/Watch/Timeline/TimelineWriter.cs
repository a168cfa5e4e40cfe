using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// Appends broker-originated entries (prompt created, approval resolved, ...) to the event log inside the caller's
/// transaction, so the change and its entry commit together.
/// </summary>
/// <remarks>
/// Callers take <see cref="LockAsync"/> first thing in the transaction, not just before the insert: the agent ingest
/// takes the same event-order lock and then touches prompts, approvals and sessions, so taking it late, after our own
/// row locks, could deadlock with it. The exception is a writer that, before the lock, only inserts new rows: nobody
/// can wait for a row nobody else sees, and the key-share locks its foreign keys take conflict only with deletes and
/// key updates, which no holder of the lock does. SendPrompt is such a writer (<see cref="LockAndAppendCommands"/>), and
/// it matters there: every transaction holding the lock makes the others wait, and prompts come in bursts. When the
/// machine's stream is on this replica and nothing else is queued for it, SendPrompt goes further
/// (OutboxFiller.FillJustQueuedAsync): it stores its prompt already SENT with the prompt's outbox row, still only new
/// rows, and takes the lock in its last round trip with the entries, then the stream's agent_link_state row (the order
/// every holder of the lock takes them in), the numbering and its COMMIT (<see cref="CommitCommand"/>). The lock is
/// then held only while PostgreSQL runs that round trip, never while the broker waits to be scheduled.
/// </remarks>
internal sealed class TimelineWriter(TimeProvider timeProvider)
{
    private const string Insert = """
        INSERT INTO events (machine_id, relay_session_id, claude_session_id, agent_event_id, agent_seq, kind,
                            hook_event_name, tool_name, occurred_at, received_at, payload)
        VALUES ($1, $2, NULL, $3, 0, $4, NULL, NULL, $5, $6, $7::jsonb)
        ON CONFLICT (machine_id, agent_event_id) DO NOTHING
        RETURNING id
        """;

    /// <summary>
    /// The log's committed head, for a writer that sends it right after taking the event-order lock and before its first
    /// insert, in the same transaction: nobody else can commit events until it commits, so its own rows are then
    /// exactly the committed rows after this head (see Watch.CommittedEvents). Read Committed: each statement sees what
    /// committed before it, and the previous holder of the lock is visible before it releases the lock.
    /// </summary>
    public static NpgsqlBatchCommand HeadCommand() => new(Head);

    /// <summary>The statement of <see cref="HeadCommand"/>.</summary>
    public const string Head = "SELECT coalesce(max(id), 0) FROM events";

    /// <summary>Takes the event-order lock (EventIngestWriter.EventOrderLockKey) until the transaction ends.</summary>
    public static async Task LockAsync(RelayDbContext db, CancellationToken cancellationToken)
    {
        var (connection, transaction) = Current(db);
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction)
        {
            Parameters = { new NpgsqlParameter<long> { TypedValue = EventIngestWriter.EventOrderLockKey } },
        };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Appends the entries; returns their positions (an entry already stored under its id is skipped).</summary>
    public async Task<List<long>> AppendAsync(RelayDbContext db, IReadOnlyList<TimelineEntry> entries, CancellationToken cancellationToken)
    {
        var (connection, transaction) = Current(db);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in Commands(entries, lockFirst: false, timeProvider.GetUtcNow().ToUniversalTime()))
        {
            batch.BatchCommands.Add(command);
        }

        var positions = new List<long>(entries.Count);
        if (batch.BatchCommands.Count == 0)
        {
            return positions;
        }

        // One result per entry: its id, or no row when the entry was stored before.
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        do
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                positions.Add(reader.GetInt64(0));
            }
        }
        while (await reader.NextResultAsync(cancellationToken));

        return positions;
    }

    /// <summary>
    /// The event-order lock and the entries as batch commands, for a caller that sends them together with more of its own
    /// work in one round trip (see the remarks on this class for when a writer may take the lock this late).
    /// </summary>
    public List<NpgsqlBatchCommand> LockAndAppendCommands(IReadOnlyList<TimelineEntry> entries) =>
        Commands(entries, lockFirst: true, timeProvider.GetUtcNow().ToUniversalTime());

    /// <summary>
    /// The same with the log's head right after the lock, for a writer whose round trip ends with COMMIT and that hands
    /// its rows to the watch feed once committed (see <see cref="TimelineAppend"/>).
    /// </summary>
    public TimelineAppend LockHeadAndAppend(IReadOnlyList<TimelineEntry> entries)
    {
        var receivedAt = timeProvider.GetUtcNow().ToUniversalTime();
        var commands = Commands(entries, lockFirst: true, receivedAt);
        commands.Insert(1, HeadCommand());
        return new TimelineAppend(commands, entries, receivedAt);
    }

    private static List<NpgsqlBatchCommand> Commands(IReadOnlyList<TimelineEntry> entries, bool lockFirst, DateTimeOffset now)
    {
        var commands = new List<NpgsqlBatchCommand>(entries.Count + 1);
        if (lockFirst)
        {
            commands.Add(EventIngestWriter.EventOrderLockCommand());
        }

        foreach (var entry in entries)
        {
            commands.Add(new NpgsqlBatchCommand(Insert)
            {
                Parameters =
                {
                    new NpgsqlParameter<Guid> { TypedValue = entry.MachineId },
                    new NpgsqlParameter { Value = entry.SessionId is { } s ? s : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid },
                    new NpgsqlParameter<Guid> { TypedValue = entry.EventId },
                    new NpgsqlParameter<string> { TypedValue = entry.Kind },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = entry.OccurredAt.ToUniversalTime() },
                    new NpgsqlParameter<DateTimeOffset> { TypedValue = now },
                    new NpgsqlParameter<string> { TypedValue = entry.Payload },
                },
            });
        }

        return commands;
    }

    /// <summary>
    /// COMMIT as the last command of a writer's last round trip. The lock is released at commit, so sending COMMIT with
    /// the statements that take it spares every other writer the time this process needs to read the results and send
    /// COMMIT on its own. An error in an earlier command of the round trip stops it, COMMIT included; the caller's
    /// transaction object then rolls back when disposed, as after any failed statement. After it ran, the caller must
    /// not commit again (Npgsql sees the connection idle: its transaction object is complete and disposing it is a no-op).
    /// </summary>
    public static NpgsqlBatchCommand CommitCommand() => new(Commit);

    /// <summary>The statement of <see cref="CommitCommand"/>, for callers that pass statements as text.</summary>
    public const string Commit = "COMMIT";

    /// <summary>The connection and transaction of <paramref name="db"/>, for hand-written SQL in the same unit of work.</summary>
    public static (NpgsqlConnection Connection, NpgsqlTransaction Transaction) Current(RelayDbContext db)
    {
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction() as NpgsqlTransaction
            ?? throw new InvalidOperationException("Event log entries are appended inside a transaction (BeginTransactionAsync first).");
        return ((NpgsqlConnection)db.Database.GetDbConnection(), transaction);
    }
}
