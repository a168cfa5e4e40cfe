using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Delivery;
using Relay.Broker.Observability;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.AgentLink;

/// <summary>One item read from an agent's stream, or a message the reader already refused (too large).</summary>
internal readonly record struct InboundItem(AgentMessage Message, ErrorCode RejectCode = ErrorCode.Unspecified, string? RejectReason = null);

/// <summary>What the agent's stream does after a batch committed.</summary>
internal sealed record BatchOutcome(long CommittedSeq, IReadOnlyList<SessionBinding> Bindings, IReadOnlyList<BrokerMessage> Replies, IReadOnlyCollection<string> Topics);

/// <summary>The stream lost the machine to a newer stream (here or on another replica): it must not commit or ack.</summary>
internal sealed class ConnectionReplacedException() : Exception("A newer stream owns the machine.");

/// <summary>The stream's machine was revoked: it must not commit or ack, and the stream ends.</summary>
internal sealed class MachineRevokedException() : Exception("The machine was revoked.");

/// <summary>One stream's batch: what it read from its agent since its last batch, and its ack of broker messages.</summary>
internal sealed record InboundBatch(
    MachineIdentity Machine,
    Guid ConnectionId,
    MachineSessionCache Cache,
    IReadOnlyList<InboundItem> Items,
    long? AckedBrokerSeq,
    string? RejectAll);

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
    IEnumerable<IInboundBatchObserver> observers)
{
    private const string Fence = """
        SELECT s.connection_id, s.last_inbound_seq, m.revoked_at IS NOT NULL
        FROM agent_link_state s JOIN machines m ON m.id = s.machine_id
        WHERE s.machine_id = $1 FOR UPDATE OF s
        """;

    /// <param name="machine">The stream's machine.</param>
    /// <param name="connectionId">The stream; the batch is refused if it no longer owns the machine.</param>
    /// <param name="cache">The stream's session cache.</param>
    /// <param name="items">Sequenced messages in seq order (retransmissions at or below the committed position are skipped).</param>
    /// <param name="ackedBrokerSeq">The agent's cumulative ack of broker messages, when it sent one.</param>
    /// <param name="rejectAll">Set when the messages broke the database on their own: store them as rejected.</param>
    /// <param name="cancellationToken">Stops waiting for the batch: it is then never acked (it may still commit, and the
    /// agent's retransmission is deduplicated by seq).</param>
    public Task<BatchOutcome> ProcessAsync(
        MachineIdentity machine,
        Guid connectionId,
        MachineSessionCache cache,
        IReadOnlyList<InboundItem> items,
        long? ackedBrokerSeq,
        string? rejectAll,
        CancellationToken cancellationToken)
    {
        var batch = new InboundBatch(machine, connectionId, cache, items, ackedBrokerSeq, rejectAll);
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
        var (outcome, context) = await StoreAsync(db, batch, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        telemetry.BatchStored(batch.Items, time.GetElapsedTime(started), context.Deliveries);
        return outcome;
    }

    /// <summary>One batch's work inside the caller's transaction (which holds the event-order lock when it has items).</summary>
    private async Task<(BatchOutcome Outcome, IngestContext Context)> StoreAsync(RelayDbContext db, InboundBatch batch, CancellationToken cancellationToken)
    {
        var machine = batch.Machine;
        using var activity = BrokerTelemetry.StartBatch(machine.Name, batch.Items);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var tx = (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction();
        long committed;
        await using (var fence = new NpgsqlCommand(Fence, connection, tx))
        {
            fence.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            await using var reader = await fence.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken) || reader.IsDBNull(0) || reader.GetGuid(0) != batch.ConnectionId)
            {
                throw new ConnectionReplacedException();
            }

            if (reader.GetBoolean(2))
            {
                // Revoked (perhaps through another replica, whose signal this one did not get): nothing more is stored.
                throw new MachineRevokedException();
            }

            committed = reader.GetInt64(1);
        }

        var context = new IngestContext(db, machine, batch.Cache, time.GetUtcNow());
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
        if (batch.AckedBrokerSeq is { } acked)
        {
            await OutboxStore.AcknowledgeAsync(connection, tx, machine.Id, acked, context.Now, cancellationToken);
        }

        await events.WriteAsync(connection, tx, context.Events, highest > committed ? [new InboundPosition(machine.Id, highest)] : [], cancellationToken);
        foreach (var observer in observers)
        {
            await observer.BeforeCommitAsync(machine.Id, highest, tx, cancellationToken);
        }

        return (new BatchOutcome(highest, bindings, context.Replies, context.Topics), context);
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
/// Sees each inbound batch just before its commit. For tests that must stop the broker between storing and
/// committing (ack-after-commit); nothing in production registers one.
/// </summary>
internal interface IInboundBatchObserver
{
    ValueTask BeforeCommitAsync(Guid machineId, long highestSeq, NpgsqlTransaction transaction, CancellationToken cancellationToken);
}
