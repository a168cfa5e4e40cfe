using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>
/// Marks prompts that were not delivered before their expiry time EXPIRED (DESIGN.md §6), logs a PROMPT_UPDATED entry for
/// each, and wakes whoever waits for them. Delivered prompts never expire: Claude has them.
/// </summary>
internal sealed class PromptExpiryJob(
    IDbContextFactory<RelayDbContext> dbFactory,
    TimelineWriter timeline,
    BrokerSignals signals,
    TimeProvider timeProvider,
    ILogger<PromptExpiryJob> logger)
{
    public const string Reason = "not delivered before it expired";

    private const int BatchSize = 500;

    // SKIP LOCKED: a prompt AgentLink is delivering right now is left for the next sweep instead of waited for.
    private const string ExpireBatch = """
        UPDATE prompts SET status = 'expired', expired_at = $1, failure_reason = $2
        WHERE id IN (SELECT id FROM prompts WHERE status IN ('queued', 'sent') AND expires_at <= $1
                     ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id
        """;

    /// <summary>Expires every overdue prompt; returns how many.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var total = 0;
        while (true)
        {
            var expired = await ExpireBatchAsync(cancellationToken);
            total += expired;
            if (expired < BatchSize)
            {
                break;
            }
        }

        if (total > 0)
        {
            PromptLog.Expired(logger, total);
        }

        return total;
    }

    private async Task<int> ExpireBatchAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        List<(Pb.Prompt Prompt, Guid MachineId)> expired;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await TimelineWriter.LockAsync(db, cancellationToken);
            var ids = new List<Guid>();
            var (connection, tx) = TimelineWriter.Current(db);
            await using (var command = new NpgsqlCommand(ExpireBatch, connection, tx))
            {
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.ToUniversalTime() });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Reason });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BatchSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetGuid(0));
                }
            }

            if (ids.Count == 0)
            {
                return 0;
            }

            var rows = await db.Prompts.AsNoTracking().Where(p => ids.Contains(p.Id))
                .Join(db.Sessions, p => p.RelaySessionId, s => s.Id, (p, s) => new { Prompt = p, s.Name, s.MachineId })
                .ToListAsync(cancellationToken);
            expired = rows.Select(r => (PromptMapper.ToProto(r.Prompt, r.Name, r.MachineId), r.MachineId)).ToList();
            await timeline.AppendAsync(db, expired.Select(e => PromptEntries.Updated(e.Prompt, e.MachineId, now)).ToList(), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        signals.Publish(BrokerSignals.Events);
        foreach (var (prompt, machineId) in expired)
        {
            signals.Publish(BrokerSignals.Prompt(prompt.PromptId));
            signals.Publish(BrokerSignals.MachineOutbound(machineId.ToString("D")));
        }

        return expired.Count;
    }
}
