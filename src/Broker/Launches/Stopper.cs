using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Queries;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Launches;

/// <summary>
/// StopSession: stores a stop request for the session's machine (AgentLink sends it, now or after a reconnect) and
/// optionally waits until the session has ended or the agent reported that it could not stop it.
/// </summary>
internal sealed class Stopper(
    IDbContextFactory<RelayDbContext> dbFactory,
    SessionSelectorResolver resolver,
    SessionReader sessions,
    AuditLog audit,
    BrokerSignals signals,
    IOptions<LaunchOptions> options,
    TimeProvider timeProvider)
{
    public async Task<Pb.StopSessionResponse> StopAsync(Caller caller, Pb.StopSessionRequest request, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var key = Require.OptionalClientId(request.StopId, "stop_id") ?? Guid.NewGuid().ToString("D");
        var grace = RequestValidation.Duration(request.GracePeriod, "grace_period", limits.MaxGracePeriod);
        var reason = Require.OptionalText(request.Reason, "reason", Limits.Reason);
        var waitTimeout = RequestValidation.Duration(request.WaitTimeout, "wait_timeout", limits.MaxWaitTimeout, allowZero: true) ?? limits.DefaultStopWaitTimeout;
        var session = await resolver.ResolveAsync(request.Session, "session", cancellationToken);
        var stopId = ClientIds.ToGuid("stop", key);

        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var existing = await db.StopRequests.AsNoTracking().FirstOrDefaultAsync(s => s.Id == stopId, cancellationToken);
            if (existing is not null && (existing.RelaySessionId != session.Id || existing.Force != request.Force))
            {
                throw AdminErrors.AlreadyExists($"stop_id '{key}' was already used to stop another session or with another force setting; use a new stop_id.");
            }

            if (existing is null)
            {
                if (session.Status == Db.SessionStatus.Ended)
                {
                    // Stopping an ended session succeeds and changes nothing (admin_prompts.proto).
                    return new Pb.StopSessionResponse { StopId = stopId.ToString("D"), Session = SessionMapper.ToProto(session), Stopped = true };
                }

                await CreateAsync(caller, stopId, key, session, request.Force, grace, reason, cancellationToken);
            }
        }

        var ((state, stop), timedOut) = request.Wait
            ? await SignalWait.UntilAsync(
                signals, BrokerSignals.Events, ct => LookAsync(session.Id, stopId, ct), s => s.Session.Status == Db.SessionStatus.Ended || s.Stop?.Stopped == false,
                waitTimeout, limits.WaitPollInterval, timeProvider, cancellationToken)
            : (await LookAsync(session.Id, stopId, cancellationToken), false);
        return new Pb.StopSessionResponse
        {
            StopId = stopId.ToString("D"),
            Session = SessionMapper.ToProto(state),
            Stopped = state.Status == Db.SessionStatus.Ended,
            Error = stop?.Error ?? "",
            WaitTimedOut = timedOut,
        };
    }

    private async Task<(SessionRow Session, Db.StopRequest? Stop)> LookAsync(Guid sessionId, Guid stopId, CancellationToken cancellationToken)
    {
        var session = await sessions.GetAsync(sessionId, cancellationToken) ?? throw AdminErrors.NotFound($"session {sessionId:D} no longer exists.");
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return (session, await db.StopRequests.AsNoTracking().FirstOrDefaultAsync(s => s.Id == stopId, cancellationToken));
    }

    private async Task CreateAsync(Caller caller, Guid stopId, string key, SessionRow session, bool force, TimeSpan? grace, string? reason, CancellationToken cancellationToken)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            db.StopRequests.Add(new Db.StopRequest
            {
                Id = stopId,
                MachineId = session.MachineId,
                RelaySessionId = session.Id,
                Force = force,
                GracePeriod = grace,
                Reason = reason,
                RequestedBy = caller.AuditActor,
                CreatedAt = timeProvider.GetUtcNow(),
            });
            audit.Add(db, new AuditRecord(caller, AuditActions.SessionStop, AuditTarget.Session(session.Id))
            {
                MachineId = session.MachineId,
                Details = new { StopId = stopId, StopKey = key, Force = force, GracePeriod = grace?.ToString("c", System.Globalization.CultureInfo.InvariantCulture), Reason = reason },
            });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent retry with the same stop id stored it first: nothing more to do.
        }

        signals.Publish(BrokerSignals.MachineOutbound(session.MachineId.ToString("D")));
    }
}
