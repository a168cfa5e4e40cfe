using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Delivery;
using Relay.Broker.Observability;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Broker.Watch;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.AgentLink;

/// <summary>
/// One item read from an agent's stream, or a message the reader already refused (too large). <paramref name="Size"/>:
/// the message's bytes as it arrived when it is a sequenced message to store, else 0 (what counts towards
/// AgentLinkOptions.MaxBatchBytes).
/// </summary>
internal readonly record struct InboundItem(AgentMessage Message, ErrorCode RejectCode = ErrorCode.Unspecified, string? RejectReason = null, int Size = 0);

/// <summary>What the agent's stream does after a batch committed.</summary>
internal sealed record BatchOutcome(long CommittedSeq, IReadOnlyList<SessionBinding> Bindings, IReadOnlyList<BrokerMessage> Replies, IReadOnlyCollection<string> Topics);

/// <summary>A machine's agent_link_state row as a batch's fence reads it: locked until the commit.</summary>
internal readonly record struct LinkFence(Guid? ConnectionId, long LastInboundSeq, bool Revoked);

/// <summary>The stream lost the machine to a newer stream (here or on another replica): it must not commit or ack.</summary>
internal sealed class ConnectionReplacedException() : Exception("A newer stream owns the machine.");

/// <summary>The stream's machine was revoked: it must not commit or ack, and the stream ends.</summary>
internal sealed class MachineRevokedException() : Exception("The machine was revoked.");

/// <summary>
/// A batch submitted while the stream's previous batch was committing found that batch not stored: nothing of it was
/// stored either (the cumulative ack must never cover a gap), and its stream stores it again once the previous one is.
/// </summary>
internal sealed class PredecessorNotStoredException(long position, long after)
    : Exception($"The machine's position is {position}; the stream's earlier messages up to {after} were not stored.");

/// <summary>
/// One stream's batch: what it read from its agent since its last batch, and its ack of broker messages.
/// <paramref name="After"/>: the highest seq of the stream's batches submitted before it, which may still be committing;
/// it is stored only once the machine's position has reached it. <paramref name="Seal"/>: set while its stream may still
/// add to <paramref name="Items"/>; the commit loop closes it before it reads them.
/// </summary>
internal sealed record InboundBatch(
    MachineIdentity Machine,
    Guid ConnectionId,
    MachineSessionCache Cache,
    IReadOnlyList<InboundItem> Items,
    long? AckedBrokerSeq,
    string? RejectAll,
    StreamMemory? Memory = null,
    long After = 0,
    BatchSeal? Seal = null);

/// <summary>
/// Stores agents' batches of sequenced messages: per batch, the machine's row lock (fencing out an older stream), every
/// message's effect on sessions, prompts, approvals and launches, the event log rows, the agent's acknowledgement of
/// broker messages, and the committed position. The caller acks the agent only after its batch's commit returned.
/// Batches with messages are committed in groups (InboundProcessor.GroupCommit.cs); a batch that carries only an ack
/// has a transaction of its own.
/// </summary>
internal sealed partial class InboundProcessor(
    IDbContextFactory<RelayDbContext> databases,
    EventIngestWriter events,
    SessionReconciler sessions,
    DeliveryInbound delivery,
    TimeProvider time,
    BrokerTelemetry telemetry,
    CommittedEvents committedEvents,
    IEnumerable<IInboundBatchObserver> observers,
    PreparedStatementRepair repair,
    ILogger<InboundProcessor> logger)
{
    // ORDER BY with FOR UPDATE locks the rows in that order: machine-id order, as PresenceSweeper does.
    private const string Fences = """
        SELECT s.machine_id, s.connection_id, s.last_inbound_seq, m.revoked_at IS NOT NULL
        FROM agent_link_state s JOIN machines m ON m.id = s.machine_id
        WHERE s.machine_id = ANY($1)
        ORDER BY s.machine_id
        FOR UPDATE OF s
        """;

    // The preload does not read sessions' row versions: only those a batch writes are remembered (StreamMemory).
    private static readonly Dictionary<Guid, uint> NoVersions = [];

    /// <param name="machine">The stream's machine.</param>
    /// <param name="connectionId">The stream; the batch is refused if it no longer owns the machine.</param>
    /// <param name="cache">The stream's session cache.</param>
    /// <param name="memory">What the stream's last batch committed, for storing this one in one round trip; null: never.</param>
    /// <param name="items">Sequenced messages in seq order (retransmissions at or below the committed position are skipped).</param>
    /// <param name="ackedBrokerSeq">The agent's cumulative ack of broker messages, when it sent one.</param>
    /// <param name="rejectAll">Set when the messages broke the database on their own: store them as rejected.</param>
    /// <param name="after">The highest seq the stream submitted before these (see <see cref="InboundBatch.After"/>).</param>
    /// <param name="seal">Set when the stream may add to <paramref name="items"/> until the commit loop takes them.</param>
    /// <param name="cancellationToken">Stops waiting for the batch: it is then never acked (it may still commit, and the
    /// agent's retransmission is deduplicated by seq).</param>
    public Task<BatchOutcome> ProcessAsync(
        MachineIdentity machine,
        Guid connectionId,
        MachineSessionCache cache,
        StreamMemory? memory,
        IReadOnlyList<InboundItem> items,
        long? ackedBrokerSeq,
        string? rejectAll,
        long after,
        CancellationToken cancellationToken,
        BatchSeal? seal = null)
    {
        var batch = new InboundBatch(machine, connectionId, cache, items, ackedBrokerSeq, rejectAll, memory, after, seal);
        return items.Count == 0 ? ProcessAloneAsync(batch, cancellationToken) : SubmitAsync(batch, cancellationToken);
    }

    /// <summary>
    /// A batch that carries only the agent's ack writes no event, so it does not take the event-order lock and does not
    /// queue behind other batches. It takes its row locks in the same order as the lock holders (agent_link_state, then
    /// agent_outbox), so skipping the lock cannot close a deadlock cycle.
    /// </summary>
    private async Task<BatchOutcome> ProcessAloneAsync(InboundBatch batch, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.Database.AutoSavepointsEnabled = false;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (fences, _, _) = await LockFencesAsync(db, eventOrderLock: false, [batch.Machine.Id], preload: null, then: [], cancellationToken);
        var (outcome, context, _) = await StoreAsync(db, batch, Admit(batch, fences), preload: null, then: [], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        telemetry.BatchStored(batch.Items, time.GetElapsedTime(started), context.Deliveries);
        return outcome;
    }

    /// <summary>
    /// Locks the machines' agent_link_state rows (in machine-id order) and reads them: the fences of their batches. In
    /// one round trip with the event-order lock before them when <paramref name="eventOrderLock"/> is set (the lock
    /// order of every transaction that takes both), the <paramref name="preload"/>'s lookups after them, and
    /// <paramref name="then"/> (statements without results) last. With the lock, also returns the log's head read right
    /// after it (TimelineWriter.HeadCommand): the group's committed rows are then exactly the rows after it; 0 without.
    /// </summary>
    /// <remarks>With <paramref name="readXid"/>, also returns the transaction's id (the row version of what it writes).</remarks>
    private static async Task<(Dictionary<Guid, LinkFence> Fences, long Head, uint Xid)> LockFencesAsync(
        RelayDbContext db, bool eventOrderLock, Guid[] machineIds, GroupPreload? preload, IReadOnlyList<string> then, CancellationToken cancellationToken,
        bool readXid = false)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var tx = (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction();
        await using var batch = new NpgsqlBatch(connection, tx);
        if (eventOrderLock)
        {
            batch.BatchCommands.Add(EventIngestWriter.EventOrderLockCommand());
            batch.BatchCommands.Add(TimelineWriter.HeadCommand());
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand(Fences) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = machineIds } } });
        if (readXid)
        {
            batch.BatchCommands.Add(StreamMemory.TransactionIdCommand());
        }

        preload?.AddTo(batch, db);
        foreach (var statement in then)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
        }

        try
        {
            return await ReadFencesAsync(batch, eventOrderLock, machineIds.Length, preload, db, readXid, cancellationToken);
        }
        catch (Exception ex) when (PreparedStatementRepair.Failing(connection, ex))
        {
            throw; // never: the filter only marks the connection
        }
    }

    private static async Task<(Dictionary<Guid, LinkFence> Fences, long Head, uint Xid)> ReadFencesAsync(
        NpgsqlBatch batch, bool eventOrderLock, int machines, GroupPreload? preload, RelayDbContext db, bool readXid, CancellationToken cancellationToken)
    {
        var fences = new Dictionary<Guid, LinkFence>(machines);
        var head = 0L;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (eventOrderLock)
        {
            await reader.NextResultAsync(cancellationToken); // past the lock's result
            await reader.ReadAsync(cancellationToken);
            head = reader.GetInt64(0);
            await reader.NextResultAsync(cancellationToken);
        }

        while (await reader.ReadAsync(cancellationToken))
        {
            fences[reader.GetGuid(0)] = new LinkFence(reader.IsDBNull(1) ? null : reader.GetGuid(1), reader.GetInt64(2), reader.GetBoolean(3));
        }

        var xid = 0u;
        if (readXid)
        {
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            xid = reader.GetFieldValue<uint>(0);
        }

        if (preload is not null)
        {
            await preload.ReadAsync(reader, db, cancellationToken);
        }

        // The statements after the fence report their errors only when their results are read.
        while (await reader.NextResultAsync(cancellationToken))
        {
        }

        return (fences, head, xid);
    }

    /// <summary>
    /// The batch's fence: its stream must still own the machine, the machine must not be revoked, and the stream's
    /// earlier batches must be stored (<see cref="InboundBatch.After"/>). Returns the machine's committed inbound position.
    /// </summary>
    /// <remarks>
    /// Read once per transaction, before the batch's work, and still true when it commits: the row stays locked until
    /// then, so no other stream can claim the machine or move its position, and a revocation takes the event-order
    /// lock, which a transaction storing events holds from its first statement. (A batch without events takes no
    /// event-order lock, and a revocation committing while it runs is seen by the next batch, as before.)
    /// </remarks>
    private static long Admit(InboundBatch batch, Dictionary<Guid, LinkFence> fences)
    {
        if (!fences.TryGetValue(batch.Machine.Id, out var fence) || fence.ConnectionId != batch.ConnectionId)
        {
            throw new ConnectionReplacedException();
        }

        if (fence.Revoked)
        {
            // Revoked (perhaps through another replica, whose signal this one did not get): nothing more is stored.
            throw new MachineRevokedException();
        }

        if (fence.LastInboundSeq < batch.After)
        {
            // Its predecessor failed while this one waited: storing it would move the position past messages never stored.
            throw new PredecessorNotStoredException(fence.LastInboundSeq, batch.After);
        }

        return fence.LastInboundSeq;
    }

    /// <summary>
    /// One batch's work inside the caller's transaction (which holds the event-order lock when it has items), after
    /// <see cref="Admit"/> returned <paramref name="committed"/>, with what <paramref name="preload"/> read for it.
    /// <paramref name="then"/> goes in the same round trip as the batch's last statements. Also returns the event rows
    /// it inserted, as the log will hold them once committed (for the watch feed: CommittedEvents).
    /// </summary>
    /// <remarks>
    /// When <paramref name="then"/> commits and the transaction has no savepoint, <paramref name="remember"/> is told
    /// what the batch left (its rows' version is <paramref name="xid"/>), for the stream's next batch (StreamMemory).
    /// </remarks>
    private async Task<(BatchOutcome Outcome, IngestContext Context, List<TimelineRow> Rows)> StoreAsync(
        RelayDbContext db, InboundBatch batch, long committed, GroupPreload? preload, IReadOnlyList<string> then, CancellationToken cancellationToken,
        StreamMemory? remember = null, uint xid = 0)
    {
        var prepared = await PrepareAsync(db, batch, committed, preload, storedReplies: null, cancellationToken);

        // The batch's changes (unless they needed a SaveChanges of their own), the event rows, the position, the outbox
        // acknowledgement and the caller's next statements: one round trip.
        var changes = prepared.Context.Changes ?? [];
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var tx = (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction();
        StoredEvents written;
        try
        {
            written = await events.WriteAsync(connection, tx, prepared.Context.Events, prepared.Positions, prepared.Alongside(), then, cancellationToken);
        }
        catch (PostgresException ex) when (ChangeCommands.Conflict(ex, changes) is { } conflict)
        {
            throw conflict;
        }

        var tracked = remember is null ? null : StreamMemory.TrackedBy(db);
        ChangeCommands.Accept(db);
        var stored = prepared.Stored(written.Events, 0, written.ReceivedAt);
        if (tracked is not null)
        {
            remember!.Remember(stored.Outcome.CommittedSeq, xid, tracked, NoVersions);
        }

        return stored;
    }

    /// <summary>
    /// A batch's work up to its last round trip: every message applied (lookups and any SaveChanges of its own run now),
    /// its changes rendered and its event rows built, the observers told. What is left to send is in the result.
    /// <paramref name="storedReplies"/>, when there is no <paramref name="preload"/>: the replies taken as stored already
    /// (a batch prepared from its stream's memory takes none).
    /// </summary>
    private async Task<PreparedBatch> PrepareAsync(
        RelayDbContext db, InboundBatch batch, long committed, GroupPreload? preload, HashSet<Guid>? storedReplies, CancellationToken cancellationToken,
        IReadOnlySet<object>? versionsChecked = null)
    {
        var machine = batch.Machine;
        using var activity = BrokerTelemetry.StartBatch(machine.Name, batch.Items);
        var context = new IngestContext(db, machine, batch.Cache, time.GetUtcNow()) { DeferChanges = true, VersionsChecked = versionsChecked };
        preload?.Attach(context, batch);
        context.StoredReplies ??= storedReplies;

        var highest = committed;
        foreach (var item in batch.Items)
        {
            var seq = (long)item.Message.Seq;
            if (seq <= committed)
            {
                continue; // A retransmission of something committed before: its Ack covers it.
            }

            context.Seq = seq;
            if (batch.RejectAll is not null || item.RejectReason is not null)
            {
                Reject(context, item.RejectReason is null ? ErrorCode.InvalidArgument : item.RejectCode, item.RejectReason ?? batch.RejectAll!);
            }
            else
            {
                try
                {
                    await DispatchAsync(context, item.Message, cancellationToken);
                }
                catch (MessageRejectedException ex)
                {
                    Reject(context, ex.Code, ex.Message);
                }
            }

            highest = Math.Max(highest, seq);
        }

        var bindings = await SessionReconciler.FinishAsync(context, cancellationToken);

        // Before the last round trip, which may already release the batch's savepoint (an observer that throws must
        // still be able to roll the batch back).
        foreach (var observer in observers)
        {
            await observer.BeforeCommitAsync(machine.Id, highest, (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction(), cancellationToken);
        }

        return new PreparedBatch(batch, context, committed, highest, bindings);
    }

    private Task DispatchAsync(IngestContext context, AgentMessage message, CancellationToken cancellationToken) => message.BodyCase switch
    {
        AgentMessage.BodyOneofCase.HookEvent => sessions.ApplyHookAsync(context, message.HookEvent, cancellationToken),
        AgentMessage.BodyOneofCase.ChannelAttached => sessions.ApplyChannelAttachedAsync(context, message.ChannelAttached, cancellationToken),
        AgentMessage.BodyOneofCase.ChannelDetached => sessions.ApplyChannelDetachedAsync(context, message.ChannelDetached, cancellationToken),
        AgentMessage.BodyOneofCase.SessionSnapshot => sessions.ApplySnapshotAsync(context, message.SessionSnapshot, cancellationToken),
        AgentMessage.BodyOneofCase.Reply => delivery.ApplyReplyAsync(context, message.Reply, cancellationToken),
        AgentMessage.BodyOneofCase.PromptReceipt => DeliveryInbound.ApplyReceiptAsync(context, message.PromptReceipt, cancellationToken),
        AgentMessage.BodyOneofCase.PermissionRequest => delivery.ApplyPermissionRequestAsync(context, message.PermissionRequest, cancellationToken),
        AgentMessage.BodyOneofCase.PermissionClosed => DeliveryInbound.ApplyPermissionClosedAsync(context, message.PermissionClosed, cancellationToken),
        AgentMessage.BodyOneofCase.LaunchResult => delivery.ApplyLaunchResultAsync(context, message.LaunchResult, cancellationToken),
        AgentMessage.BodyOneofCase.StopResult => delivery.ApplyStopResultAsync(context, message.StopResult, cancellationToken),
        AgentMessage.BodyOneofCase.SessionMessage => delivery.ApplySessionMessageAsync(context, message.SessionMessage, cancellationToken),
        AgentMessage.BodyOneofCase.EventsDropped => EventsDroppedAsync(context, message.EventsDropped, cancellationToken),
        _ => throw new MessageRejectedException(ErrorCode.Protocol, $"{message.BodyCase} is not a sequenced message."),
    };

    /// <summary>The agent's spool overflowed: the gap in its seqs is explained, and people see it on the machine.</summary>
    private static async Task EventsDroppedAsync(IngestContext context, EventsDropped dropped, CancellationToken cancellationToken)
    {
        var row = await context.Db.Machines.AsNoTracking().SingleAsync(m => m.Id == context.Machine.Id, cancellationToken);
        var machine = LinkStateStore.MachineProto(row, online: true, replica: null);
        machine.Spool = new SpoolStats { DroppedTotal = dropped.DroppedCount };
        context.AddEvent(EventKind.EventsDropped, context.DerivedEventId("events_dropped"), null, context.Now, machine);
    }

    /// <summary>The message is stored as refused (and so acked: it is never retransmitted); the agent hears why.</summary>
    private static void Reject(IngestContext context, ErrorCode code, string reason)
    {
        var notice = new Notice { Code = code, Message = reason, Seq = (ulong)context.Seq };
        context.Replies.Add(new BrokerMessage { Notice = notice });
        context.AddEvent(EventKind.MessageRejected, context.DerivedEventId("rejected"), null, context.Now, notice);
    }
}

/// <summary>
/// Sees each inbound batch after its work and before its last statements (its event rows) and its commit. For tests that must stop the broker between storing and
/// committing (ack-after-commit); nothing in production registers one.
/// </summary>
internal interface IInboundBatchObserver
{
    ValueTask BeforeCommitAsync(Guid machineId, long highestSeq, NpgsqlTransaction transaction, CancellationToken cancellationToken);
}

/// <summary>A batch whose messages were applied (InboundProcessor.PrepareAsync) and whose last round trip is still to send.</summary>
internal sealed record PreparedBatch(InboundBatch Batch, IngestContext Context, long Committed, long Highest, IReadOnlyList<SessionBinding> Bindings)
{
    /// <summary>The machine's new committed position, when the batch moved it.</summary>
    public IReadOnlyList<InboundPosition> Positions => Highest > Committed ? [new InboundPosition(Batch.Machine.Id, Highest)] : [];

    /// <summary>What goes in the last round trip besides the event rows and the position: its changes, then its outbox acknowledgement.</summary>
    public List<NpgsqlBatchCommand> Alongside()
    {
        List<NpgsqlBatchCommand> changes = Context.Changes ?? [];
        return Batch.AckedBrokerSeq is { } acked ? [.. changes, .. OutboxStore.AcknowledgeCommands(Batch.Machine.Id, acked, Context.Now)] : changes;
    }

    /// <summary>
    /// The batch's outcome and its event rows as the log holds them, from what the insert returned: <paramref name="stored"/>
    /// indexes the batch's events from <paramref name="firstIndex"/> on (other batches' events may share the insert).
    /// </summary>
    public (BatchOutcome Outcome, IngestContext Context, List<TimelineRow> Rows) Stored(IEnumerable<IngestedEvent> stored, int firstIndex, DateTimeOffset receivedAt)
    {
        var rows = new List<TimelineRow>();
        foreach (var e in stored)
        {
            var inserted = Context.Events[e.Index - firstIndex];
            rows.Add(TimelineRow.Inserted(
                e.EventId, inserted.MachineId, inserted.RelaySessionId, inserted.ClaudeSessionId, inserted.AgentEventId,
                SnakeCaseEnumConverter<EventKind>.ToText(inserted.Kind), inserted.OccurredAt, receivedAt, inserted.Payload));
        }

        return (new BatchOutcome(Highest, Bindings, Context.Replies, Context.Topics), Context, rows);
    }
}
