using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;
using MachineMessage = Relay.Protocol.V1.Machine;
using MachineRow = Relay.Broker.Persistence.Entities.Machine;

namespace Relay.Broker.Machines;

/// <summary>
/// Enrolled machines for Admin: list, one machine with its live sessions, revoke. Presence comes from the AgentLink
/// stream's records: a machine is online while a replica holds an unexpired lease on its stream (agent_link_state).
/// </summary>
internal sealed partial class MachineDirectory(
    IDbContextFactory<RelayDbContext> databases,
    SessionReader sessions,
    AuditLog audit,
    Authenticator authenticator,
    RevocationRegistry revocations,
    SessionReconciler reconciler,
    EventIngestWriter events,
    BrokerSignals signals,
    TimeProvider time,
    ILogger<MachineDirectory> logger)
{
    /// <summary>Most live sessions GetMachine lists.</summary>
    private const int MaxSessionsShown = 500;

    public async Task<ListMachinesResponse> ListAsync(ListMachinesRequest request, CancellationToken cancellationToken)
    {
        var pageSize = PageToken.Size(request.PageSize);
        var after = PageToken.Decode(request.PageToken);
        var now = time.GetUtcNowForStorage();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var query = db.Machines.AsNoTracking();
        if (!request.IncludeRevoked)
        {
            query = query.Where(m => m.RevokedAt == null);
        }

        if (request.OnlineOnly)
        {
            query = query.Where(m => db.AgentLinkStates.Any(s => s.MachineId == m.Id && s.LeaseHolder != null && s.LeaseExpiresAt > now));
        }

        if (after is not null)
        {
            query = query.Where(m => string.Compare(m.Name, after) > 0);
        }

        var rows = await query.OrderBy(m => m.Name).Take(pageSize + 1).ToListAsync(cancellationToken);
        var page = rows.Take(pageSize).ToList();
        var response = new ListMachinesResponse();
        response.Machines.AddRange(await ToMessagesAsync(db, page, cancellationToken));
        if (rows.Count > pageSize)
        {
            response.NextPageToken = PageToken.Encode(page[^1].Name);
        }

        return response;
    }

    public async Task<GetMachineResponse> GetAsync(string? machine, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var row = await ResolveAsync(db, machine, "machine", cancellationToken);
        var response = new GetMachineResponse { Machine = (await ToMessagesAsync(db, [row], cancellationToken))[0] };
        var liveIds = await db.Sessions.AsNoTracking()
            .Where(s => s.MachineId == row.Id && s.Status != SessionStatus.Ended)
            .OrderByDescending(s => s.LastActivityAt ?? s.UpdatedAt)
            .Select(s => s.Id)
            .Take(MaxSessionsShown)
            .ToListAsync(cancellationToken);
        var live = await sessions.GetManyAsync(liveIds, cancellationToken);
        response.Sessions.AddRange(liveIds.Where(live.ContainsKey).Select(id => SessionMapper.ToProto(live[id])));
        return response;
    }

    /// <summary>
    /// RevokeMachine: the machine's credentials stop working at once (in this replica; elsewhere within the
    /// credential cache time), its stream is told to end (<see cref="Caller.Revoked"/> and a machine signal; a stream
    /// on another replica fails its next commit), and its live sessions end with reason machine_revoked through the
    /// session reconciler, so session_ended events are written and what waited on them (prompts, approvals) settles.
    /// Revoking a revoked machine changes nothing.
    /// </summary>
    public async Task<MachineMessage> RevokeAsync(Caller caller, RevokeMachineRequest request, CancellationToken cancellationToken)
    {
        var reason = Require.OptionalText(request.Reason, "reason", Limits.Reason);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var row = await ResolveAsync(db, request.Machine, "machine", cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // The event-order lock first, like every transaction that writes the event log (see TimelineWriter): taking it
        // after the machine's row lock could deadlock with the machine's inbound batches.
        await TimelineWriter.LockAsync(db, cancellationToken);
        row = await db.Machines.FromSql($"SELECT * FROM machines WHERE id = {row.Id} FOR UPDATE").SingleAsync(cancellationToken);
        if (row.RevokedAt is null)
        {
            var now = time.GetUtcNowForStorage();
            row.RevokedAt = now;
            await db.MachineCredentials.Where(c => c.MachineId == row.Id && c.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.RevokedAt, now), cancellationToken);
            await db.EnrolmentTokens.Where(t => t.MachineId == row.Id && t.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), cancellationToken);

            var context = new IngestContext(db, new MachineIdentity(row.Id, row.Name), new MachineSessionCache(), now);
            var live = await db.Sessions.Where(s => s.MachineId == row.Id && s.Status != SessionStatus.Ended).ToListAsync(cancellationToken);
            foreach (var session in live)
            {
                await reconciler.EndAsync(context, session, SessionEndReasons.MachineRevoked, now, cancellationToken);
            }

            await SessionReconciler.FinishAsync(context, cancellationToken);
            audit.Add(db, caller, AuditActions.MachineRevoke, AuditTarget.Machine(row.Id), new { row.Name, Reason = reason, SessionsEnded = live.Count });
            await db.SaveChangesAsync(cancellationToken);
            var (connection, tx) = ((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
            await events.WriteAsync(connection, tx, context.Events, [], cancellationToken);
            await transaction.CommitAsync(cancellationToken);

            authenticator.Invalidate(row.Id);
            revocations.Revoke(row.Id);
            foreach (var topic in context.Topics)
            {
                signals.Publish(topic);
            }

            signals.Publish(BrokerSignals.Machine(row.Id.ToString()));
            MachineLog.Revoked(logger, row.Id, row.Name, live.Count, caller.AuditActor);
        }

        return (await ToMessagesAsync(db, [row], cancellationToken))[0];
    }

    /// <summary>The machine named by id or name; INVALID_ARGUMENT when empty, NOT_FOUND when unknown.</summary>
    public static async Task<MachineRow> ResolveAsync(RelayDbContext db, string? machine, string field, CancellationToken cancellationToken)
    {
        var reference = Require.Name(machine, field);
        MachineRow? row = null;
        if (Guid.TryParse(reference, out var id))
        {
            row = await db.Machines.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, cancellationToken);
        }

        row ??= await db.Machines.AsNoTracking().FirstOrDefaultAsync(m => m.Name == reference, cancellationToken);
        return row ?? throw RpcErrors.NotFound($"No machine has the id or name '{Require.Shorten(reference)}' (relayctl machines list shows them).");
    }

    private async Task<List<MachineMessage>> ToMessagesAsync(RelayDbContext db, IReadOnlyList<MachineRow> rows, CancellationToken cancellationToken)
    {
        var ids = rows.Select(r => r.Id).ToList();
        var now = time.GetUtcNowForStorage();
        var leases = await db.AgentLinkStates.AsNoTracking()
            .Where(s => ids.Contains(s.MachineId) && s.LeaseHolder != null && s.LeaseExpiresAt > now)
            .ToDictionaryAsync(s => s.MachineId, s => s.LeaseHolder!, cancellationToken);
        var live = await db.Sessions.AsNoTracking()
            .Where(s => ids.Contains(s.MachineId) && s.Status != SessionStatus.Ended)
            .GroupBy(s => s.MachineId)
            .Select(g => new { MachineId = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.MachineId, g => g.Count, cancellationToken);

        return rows.Select(r =>
        {
            var online = r.RevokedAt is null && leases.ContainsKey(r.Id);
            var message = new MachineMessage
            {
                MachineId = r.Id.ToString(),
                Name = r.Name,
                Hostname = r.Hostname ?? string.Empty,
                Os = r.Os ?? string.Empty,
                AgentVersion = r.AgentVersion ?? string.Empty,
                ClaudeCodeVersion = r.ClaudeCodeVersion ?? string.Empty,
                Online = online,
                EnrolledAt = Timestamp.FromDateTimeOffset(r.CreatedAt),
                LiveSessions = (uint)live.GetValueOrDefault(r.Id),
                BrokerReplica = online ? leases[r.Id] : string.Empty,
            };
            if (online && r.ConnectedAt is { } connected)
            {
                message.ConnectedAt = Timestamp.FromDateTimeOffset(connected);
            }

            if (r.LastSeenAt is { } seen)
            {
                message.LastSeenAt = Timestamp.FromDateTimeOffset(seen);
            }

            if (r.RevokedAt is { } revoked)
            {
                message.RevokedAt = Timestamp.FromDateTimeOffset(revoked);
            }

            return message;
        }).ToList();
    }
}
