using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Sessions;

/// <summary>
/// UpdateSession: renames a session. The session's agent learns the new name from the machine's outbox signal (its
/// briefings key off names); watchers see a SESSION_UPDATED entry.
/// </summary>
internal sealed class SessionRenamer(
    SessionSelectorResolver resolver,
    IDbContextFactory<RelayDbContext> dbFactory,
    TimelineWriter timeline,
    AuditLog audit,
    BrokerSignals signals,
    TimeProvider timeProvider)
{
    public async Task<Session> UpdateAsync(Caller caller, UpdateSessionRequest request, CancellationToken cancellationToken)
    {
        var newName = request.HasName ? Require.OptionalName(request.Name, "name") : null;
        var row = await resolver.ResolveAsync(request.Session, "session", cancellationToken);
        if (!request.HasName || newName == row.Name)
        {
            return SessionMapper.ToProto(row);
        }

        var now = timeProvider.GetUtcNow();
        var renamed = row with { Name = newName };
        var session = SessionMapper.ToProto(renamed);
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await TimelineWriter.LockAsync(db, cancellationToken);
            var changed = await db.Sessions.Where(s => s.Id == row.Id)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.Name, newName).SetProperty(s => s.UpdatedAt, now), cancellationToken);
            if (changed == 0)
            {
                throw AdminErrors.NotFound($"session {row.Id:D} no longer exists.");
            }

            await timeline.AppendAsync(db, [new TimelineEntry(row.MachineId, row.Id, TimelineKinds.SessionUpdated, Guid.NewGuid(), now, ProtoJson.Format(session))], cancellationToken);
            audit.Add(db, new AuditRecord(caller, AuditActions.SessionUpdate, AuditTarget.Session(row.Id))
            {
                Details = new { OldName = row.Name, NewName = newName },
                MachineId = row.MachineId,
            });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        signals.Publish(BrokerSignals.Events);
        signals.Publish(BrokerSignals.MachineOutbound(row.MachineId.ToString("D")));
        return session;
    }
}
