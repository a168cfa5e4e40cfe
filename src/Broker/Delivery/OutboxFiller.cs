using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;

namespace Relay.Broker.Delivery;

/// <summary>
/// Moves a machine's queued work onto its AgentLink stream: queued prompts (→ SENT), decided approvals (their verdicts),
/// requested launches (→ SENT) and unsent stop requests become rows of the machine's durable outbox, numbered with the
/// next broker seqs together with rows other features left unnumbered (session-message statuses). All in one
/// transaction under the machine's agent_link_state row lock, and only by the stream that owns the machine.
/// </summary>
internal sealed partial class OutboxFiller(
    IDbContextFactory<RelayDbContext> databases,
    NpgsqlDataSource dataSource,
    EventIngestWriter events,
    TimelineWriter timeline,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<OutboxFiller> logger)
{
    // Work the filler moves for machine m.id: the cheap check before taking any lock (most signals find nothing new
    // for the stream), and the sweep that finds work whose signal was missed.
    private const string OutboxWork = "EXISTS (SELECT 1 FROM agent_outbox WHERE machine_id = m.id AND seq IS NULL)";
    private const string LaunchWork = "EXISTS (SELECT 1 FROM launches WHERE machine_id = m.id AND status = 'requested')";
    private const string StopWork = "EXISTS (SELECT 1 FROM stop_requests WHERE machine_id = m.id AND sent_at IS NULL)";
    private const string PromptWork = """
        EXISTS (SELECT 1 FROM prompts p JOIN sessions s ON s.id = p.relay_session_id
                WHERE s.machine_id = m.id AND p.status = 'queued' AND s.status <> 'ended')
        """;
    private const string VerdictWork = """
        EXISTS (SELECT 1 FROM approvals a JOIN sessions s ON s.id = a.relay_session_id
                WHERE s.machine_id = m.id AND a.status IN ('allowed', 'denied') AND a.verdict_sent_at IS NULL)
        """;

    // Which kinds of work there are, so that a fill runs only the queries that can find something.
    // Queued prompts are counted: a writer that just queued the only one already has it (see FillWithinAsync).
    private const string QueuedPrompts = """
        (SELECT count(*) FROM prompts p JOIN sessions s ON s.id = p.relay_session_id
         WHERE s.machine_id = m.id AND p.status = 'queued' AND s.status <> 'ended')
        """;

    private const string PendingColumns = OutboxWork + ", " + LaunchWork + ", " + StopWork + ", " + QueuedPrompts + ", " + VerdictWork;

    private const string Pending = "SELECT " + PendingColumns + " FROM (SELECT $1::uuid AS id) m";

    private const string CurrentClaude = "SELECT claude_session_id FROM session_segments WHERE relay_session_id = $1 ORDER BY ordinal DESC LIMIT 1";

    private const string MachinesWithWork = "SELECT m.id FROM unnest($1::uuid[]) AS m(id) WHERE "
        + OutboxWork + " OR " + LaunchWork + " OR " + StopWork + " OR " + PromptWork + " OR " + VerdictWork;

    private const string LockState = "SELECT connection_id FROM agent_link_state WHERE machine_id = $1 FOR UPDATE";

    // Numbers the unnumbered rows in queue order, moves the stream's last assigned seq, and returns the rows ready to
    // send: one round trip, and nothing when connectionId ($2) does not own the machine. The caller has locked the
    // stream's row in an earlier statement, so this statement's snapshot sees every numbering committed before that
    // lock and none can commit under it. (Data-modifying CTEs all run, referenced or not, on one snapshot.)
    private const string Number = """
        WITH st AS (
            SELECT last_outbound_seq FROM agent_link_state WHERE machine_id = $1 AND connection_id = $2),
        todo AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n FROM agent_outbox
            WHERE machine_id = $1 AND seq IS NULL AND EXISTS (SELECT 1 FROM st)),
        numbered AS (
            UPDATE agent_outbox o SET seq = st.last_outbound_seq + todo.n FROM todo, st WHERE o.id = todo.id
            RETURNING o.seq, o.payload),
        advanced AS (
            UPDATE agent_link_state SET last_outbound_seq = (SELECT max(seq) FROM numbered), updated_at = $3
            WHERE machine_id = $1 AND EXISTS (SELECT 1 FROM numbered))
        SELECT seq, payload FROM numbered ORDER BY seq
        """;

    /// <summary>Of <paramref name="machines"/>, those with work for the filler (one query for any number of machines).</summary>
    public async Task<IReadOnlyList<Guid>> MachinesWithWorkAsync(IReadOnlyCollection<Guid> machines, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(MachinesWithWork);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. machines] });
        var found = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(reader.GetGuid(0));
        }

        return found;
    }

    /// <summary>
    /// Numbers everything queued for <paramref name="machine"/> in a transaction of its own; returns the last broker seq
    /// assigned and the numbered messages, or nothing (nothing queued, or <paramref name="connectionId"/> no longer owns
    /// the machine).
    /// </summary>
    public async Task<FillResult> FillAsync(MachineIdentity machine, Guid connectionId, CancellationToken cancellationToken)
    {
        PendingWork pending;
        await using (var check = dataSource.CreateCommand(Pending))
        {
            check.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            (pending, _) = await ReadPendingAsync(reader, cancellationToken);
        }

        if (pending == PendingWork.None)
        {
            return FillResult.Nothing;
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        db.Database.AutoSavepointsEnabled = false; // all or nothing: EF's savepoints would be two more round trips per save
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var npgsqlTransaction = (NpgsqlTransaction)transaction.GetDbTransaction();

        // The event-order lock first, like every transaction that writes the event log and touches prompts, approvals
        // or sessions (see TimelineWriter): taking it after our row locks could deadlock with those.
        await using var batch = new NpgsqlBatch(connection, npgsqlTransaction)
        {
            BatchCommands =
            {
                EventIngestWriter.EventOrderLockCommand(),
                new NpgsqlBatchCommand(LockState) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } },
            },
        };
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            await reader.NextResultAsync(cancellationToken);
            if (!await OwnsAsync(reader, connectionId, cancellationToken))
            {
                return FillResult.Nothing;
            }
        }

        var result = await FillLockedAsync(db, connection, npgsqlTransaction, machine, connectionId, pending, known: null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return Filled(machine, result);
    }

    /// <summary>
    /// The same as <see cref="FillAsync"/>, inside the caller's transaction (a writer that just queued work for a machine
    /// whose stream is on this replica): the work is numbered when it is stored, and the stream sends it without a
    /// transaction of its own. Effective only once the caller commits. <paramref name="leading"/> go first in the same
    /// round trip and must take the event-order lock unless the caller holds it (their results are not read);
    /// <paramref name="justQueued"/>, a prompt the caller queued in this transaction, saves a query when it is the only one.
    /// </summary>
    public async Task<FillResult> FillWithinAsync(
        RelayDbContext db, MachineIdentity machine, Guid connectionId, IReadOnlyList<NpgsqlBatchCommand> leading, Prompt? justQueued,
        CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var npgsqlTransaction = (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("FillWithinAsync needs the caller's transaction.");
        await using var batch = new NpgsqlBatch(connection, npgsqlTransaction);
        foreach (var command in leading)
        {
            batch.BatchCommands.Add(command);
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand(Pending) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockState) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = machine.Id } } });
        if (justQueued is not null)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(CurrentClaude) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = justQueued.RelaySessionId } } });
        }

        PendingWork pending;
        long queuedPrompts;
        bool owned;
        Guid? claude = null;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            for (var i = 0; i < leading.Count; i++)
            {
                await reader.NextResultAsync(cancellationToken);
            }

            (pending, queuedPrompts) = await ReadPendingAsync(reader, cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            owned = await OwnsAsync(reader, connectionId, cancellationToken);
            if (justQueued is not null && await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
            {
                claude = reader.GetGuid(0);
            }
        }

        if (pending == PendingWork.None || !owned)
        {
            return FillResult.Nothing;
        }

        var known = justQueued is not null && queuedPrompts == 1 ? new KnownPrompt(justQueued, claude) : null;
        return await FillLockedAsync(db, connection, npgsqlTransaction, machine, connectionId, pending, known, cancellationToken);
    }

    /// <summary>Logs a committed fill.</summary>
    public FillResult Filled(MachineIdentity machine, FillResult result)
    {
        if (result.LastSeq is { } last)
        {
            DeliveryLog.OutboxFilled(logger, result.Messages.Count, machine.Id, last);
        }

        return result;
    }

    private async Task<FillResult> FillLockedAsync(
        RelayDbContext db, NpgsqlConnection connection, NpgsqlTransaction transaction, MachineIdentity machine, Guid connectionId, PendingWork pending,
        KnownPrompt? known, CancellationToken cancellationToken)
    {
        var context = new IngestContext(db, machine, new MachineSessionCache(), time.GetUtcNow());
        var budget = options.Value.MaxFillRows;
        if (pending.HasFlag(PendingWork.Launches))
        {
            budget -= await AddLaunchesAsync(context, budget, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
        }

        if (known is not null && known.Prompt.Status == PromptStatus.Queued && known.Prompt.ExpiresAt > context.Now)
        {
            // The only queued prompt of the machine is the one the caller just stored: nothing to look up.
            await AddPromptAsync(context, known.Prompt, known.ClaudeSessionId, cancellationToken);
            budget--;
        }
        else if (pending.HasFlag(PendingWork.Prompts))
        {
            budget -= await AddPromptsAsync(context, budget, cancellationToken);
        }

        if (pending.HasFlag(PendingWork.Verdicts))
        {
            budget -= await AddVerdictsAsync(context, budget, cancellationToken);
        }

        if (pending.HasFlag(PendingWork.Stops))
        {
            await AddStopsAsync(context, budget, cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);

        List<BrokerMessage> messages;
        await using (var number = new NpgsqlCommand(Number, connection, transaction))
        {
            number.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            number.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = connectionId });
            number.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = context.Now });
            await using var reader = await number.ExecuteReaderAsync(cancellationToken);
            messages = await ReadNumberedAsync(reader, cancellationToken);
        }

        await events.WriteAsync(connection, transaction, context.Events, [], cancellationToken);
        return Result(context, messages);
    }

    /// <summary>The rows a numbering statement returned (seq, payload), as the messages to send.</summary>
    private static async Task<List<BrokerMessage>> ReadNumberedAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var messages = new List<BrokerMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var message = BrokerMessage.Parser.ParseFrom(reader.GetFieldValue<byte[]>(1));
            message.Seq = (ulong)reader.GetInt64(0);
            messages.Add(message);
        }

        return messages;
    }

    private static FillResult Result(IngestContext context, List<BrokerMessage> messages) => messages.Count == 0
        ? new FillResult(null, [.. context.Topics], [])
        : new FillResult((long)messages[^1].Seq, [.. context.Topics], messages);

    private static async Task<(PendingWork Pending, long QueuedPrompts)> ReadPendingAsync(NpgsqlDataReader reader, CancellationToken cancellationToken) =>
        await reader.ReadAsync(cancellationToken) ? ReadPending(reader, 0) : (PendingWork.None, 0);

    /// <summary>The current row's <see cref="Pending"/> columns, the first at <paramref name="first"/>.</summary>
    private static (PendingWork Pending, long QueuedPrompts) ReadPending(NpgsqlDataReader reader, int first)
    {
        var queuedPrompts = reader.GetInt64(first + 3);
        var pending = PendingWork.None;
        pending |= reader.GetBoolean(first) ? PendingWork.Outbox : PendingWork.None;
        pending |= reader.GetBoolean(first + 1) ? PendingWork.Launches : PendingWork.None;
        pending |= reader.GetBoolean(first + 2) ? PendingWork.Stops : PendingWork.None;
        pending |= queuedPrompts > 0 ? PendingWork.Prompts : PendingWork.None;
        pending |= reader.GetBoolean(first + 4) ? PendingWork.Verdicts : PendingWork.None;
        return (pending, queuedPrompts);
    }

    /// <summary>Whether <paramref name="connectionId"/> still owns the machine, by its locked agent_link_state row.</summary>
    private static async Task<bool> OwnsAsync(NpgsqlDataReader reader, Guid connectionId, CancellationToken cancellationToken) =>
        await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0) && reader.GetGuid(0) == connectionId;

    private static OutboxMessage Row(IngestContext context, OutboxKind kind, Guid refId, BrokerMessage message) => new()
    {
        MachineId = context.Machine.Id,
        Kind = kind,
        RefId = refId,
        Payload = message.ToByteArray(),
        CreatedAt = context.Now,
    };

    private static void PromptSent(IngestContext context, Prompt prompt)
    {
        prompt.Status = PromptStatus.Sent;
        prompt.SentAt ??= context.Now;
        // Counted when numbered for the stream, which sends it next; a resend after a reconnect counts again (OutboxStore).
        prompt.DeliveryAttempts++;
        context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        context.AddEvent(EventKind.PromptUpdated, context.DerivedEventId($"prompt_sent/{prompt.Id:N}"), prompt.RelaySessionId, context.Now,
            Prompts.PromptMapper.ToProto(prompt, sessionName: null, context.Machine.Id));
    }
}

/// <summary>
/// What a fill did: the last broker seq it assigned (null: none), the signals to publish, and the messages it numbered
/// (seq set, in order), which the stream can send without reading them back.
/// </summary>
/// <param name="LastSeq">The last seq numbered, when anything was.</param>
/// <param name="Topics">The signals to publish once committed.</param>
/// <param name="Messages">The numbered messages, for the stream to send once committed.</param>
/// <param name="Committed">The event log rows the writer's commit added, when the fill read them to hand them to the
/// watch feed (OutboxFiller.FillJustQueuedAsync); <see cref="Topics"/> then leaves out BrokerSignals.Events.</param>
/// <param name="Sent">
/// The prompt a writer's fill stored SENT and numbered for the stream (OutboxFiller.FillJustQueuedAsync): a copy of
/// the committed row, with its row version, which the stream may store the prompt's receipt from (StreamMemory).
/// </param>
internal sealed record FillResult(
    long? LastSeq, IReadOnlyList<string> Topics, IReadOnlyList<BrokerMessage> Messages, CommittedRows? Committed = null, Prompt? Sent = null)
{
    public static readonly FillResult Nothing = new(null, [], []);
}

/// <summary>A prompt the filling writer just queued, with its session's current Claude session id.</summary>
internal sealed record KnownPrompt(Prompt Prompt, Guid? ClaudeSessionId);

/// <summary>The kinds of work queued for a machine.</summary>
[Flags]
internal enum PendingWork
{
    None = 0,
    Outbox = 1,
    Launches = 2,
    Stops = 4,
    Prompts = 8,
    Verdicts = 16,
}
