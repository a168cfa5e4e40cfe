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
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<OutboxFiller> logger)
{
    // Work the filler moves for machine m.id: the cheap check before taking any lock (most signals find nothing new
    // for the stream), and the sweep that finds work whose signal was missed.
    private const string WorkFor = """
        EXISTS (SELECT 1 FROM agent_outbox WHERE machine_id = m.id AND seq IS NULL)
            OR EXISTS (SELECT 1 FROM launches WHERE machine_id = m.id AND status = 'requested')
            OR EXISTS (SELECT 1 FROM stop_requests WHERE machine_id = m.id AND sent_at IS NULL)
            OR EXISTS (SELECT 1 FROM prompts p JOIN sessions s ON s.id = p.relay_session_id
                       WHERE s.machine_id = m.id AND p.status = 'queued' AND s.status <> 'ended')
            OR EXISTS (SELECT 1 FROM approvals a JOIN sessions s ON s.id = a.relay_session_id
                       WHERE s.machine_id = m.id AND a.status IN ('allowed', 'denied') AND a.verdict_sent_at IS NULL)
        """;

    private const string HasWork = "SELECT " + WorkFor + " FROM (SELECT $1::uuid AS id) m";

    private const string MachinesWithWork = "SELECT m.id FROM unnest($1::uuid[]) AS m(id) WHERE " + WorkFor;

    private const string LockState = "SELECT connection_id, last_outbound_seq FROM agent_link_state WHERE machine_id = $1 FOR UPDATE";

    private const string Number = """
        WITH todo AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n FROM agent_outbox WHERE machine_id = $1 AND seq IS NULL)
        UPDATE agent_outbox o SET seq = $2 + todo.n FROM todo WHERE o.id = todo.id
        RETURNING o.seq
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
    /// Numbers everything queued for <paramref name="machine"/>; returns the last broker seq assigned, or null when
    /// nothing was (nothing queued, or <paramref name="connectionId"/> no longer owns the machine).
    /// </summary>
    public async Task<FillResult> FillAsync(MachineIdentity machine, Guid connectionId, CancellationToken cancellationToken)
    {
        await using (var check = dataSource.CreateCommand(HasWork))
        {
            check.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            if (await check.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return FillResult.Nothing;
            }
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var npgsqlTransaction = (NpgsqlTransaction)transaction.GetDbTransaction();

        // The event-order lock first, like every transaction that writes the event log and touches prompts, approvals
        // or sessions (see TimelineWriter): taking it after our row locks could deadlock with those.
        await using (var lockEvents = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, npgsqlTransaction))
        {
            lockEvents.Parameters.Add(new NpgsqlParameter<long> { TypedValue = EventIngestWriter.EventOrderLockKey });
            await lockEvents.ExecuteNonQueryAsync(cancellationToken);
        }

        long lastSeq;
        await using (var lockState = new NpgsqlCommand(LockState, connection, npgsqlTransaction))
        {
            lockState.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            await using var reader = await lockState.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken) || reader.IsDBNull(0) || reader.GetGuid(0) != connectionId)
            {
                return FillResult.Nothing;
            }

            lastSeq = reader.GetInt64(1);
        }

        var context = new IngestContext(db, machine, new MachineSessionCache(), time.GetUtcNow());
        var budget = options.Value.MaxFillRows;
        budget -= await AddLaunchesAsync(context, budget, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        budget -= await AddPromptsAsync(context, budget, cancellationToken);
        budget -= await AddVerdictsAsync(context, budget, cancellationToken);
        await AddStopsAsync(context, budget, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);

        var numbered = new List<long>();
        await using (var number = new NpgsqlCommand(Number, connection, npgsqlTransaction))
        {
            number.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            number.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lastSeq });
            await using var reader = await number.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                numbered.Add(reader.GetInt64(0));
            }
        }

        if (numbered.Count > 0)
        {
            lastSeq = numbered.Max();
            await using var advance = new NpgsqlCommand(
                "UPDATE agent_link_state SET last_outbound_seq = $2, updated_at = $3 WHERE machine_id = $1", connection, npgsqlTransaction);
            advance.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            advance.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lastSeq });
            advance.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = context.Now });
            await advance.ExecuteNonQueryAsync(cancellationToken);
        }

        await events.WriteAsync(connection, npgsqlTransaction, context.Events, [], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (numbered.Count > 0)
        {
            DeliveryLog.OutboxFilled(logger, numbered.Count, machine.Id, lastSeq);
        }

        return new FillResult(numbered.Count > 0 ? lastSeq : null, context.Topics.ToList());
    }

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
        context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        context.AddEvent(EventKind.PromptUpdated, context.DerivedEventId($"prompt_sent/{prompt.Id:N}"), prompt.RelaySessionId, context.Now,
            Prompts.PromptMapper.ToProto(prompt, sessionName: null, context.Machine.Id));
    }
}

/// <summary>What a fill did: the last broker seq it assigned (null: none) and the signals to publish.</summary>
internal sealed record FillResult(long? LastSeq, IReadOnlyList<string> Topics)
{
    public static readonly FillResult Nothing = new(null, []);
}
