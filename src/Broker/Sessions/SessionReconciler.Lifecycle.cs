using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Sessions;

internal sealed partial class SessionReconciler
{
    /// <summary>Ends <paramref name="session"/>; what waits on it (prompts, approvals) settles in the same transaction.</summary>
    public async Task EndAsync(IngestContext context, RelaySession session, string reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (session.Status == SessionStatus.Ended)
        {
            return;
        }

        session.Status = SessionStatus.Ended;
        session.EndedAt = at;
        session.EndReason = reason;
        session.ChannelAttached = false;
        session.ChannelId = null;
        session.UpdatedAt = context.Now;
        context.BindingChanged(session);
        context.SessionEvents.Add(new SessionEventRequest(EventKind.SessionEnded, session, context.DerivedEventId($"session_ended/{session.Id:N}"), at));
        SessionsLog.SessionEnded(logger, session.Id, reason);
        foreach (var observer in endObservers)
        {
            await observer.SessionEndedAsync(context, session, cancellationToken);
        }
    }

    /// <summary>A session that ended shows life again (`claude --resume` of one of its ids): it is live once more.</summary>
    private static void Reopen(IngestContext context, RelaySession session)
    {
        session.Status = SessionStatus.Idle;
        session.EndedAt = null;
        session.EndReason = null;
        session.UpdatedAt = context.Now;
        context.BindingChanged(session);
        SessionUpdated(context, session);
    }

    /// <summary>Records a session_updated entry (status, presence or name changed); one per session per message.</summary>
    public static void SessionUpdated(IngestContext context, RelaySession session)
    {
        var id = context.DerivedEventId($"session_updated/{session.Id:N}");
        if (!context.SessionEvents.Exists(e => e.EventId == id))
        {
            context.SessionEvents.Add(new SessionEventRequest(EventKind.SessionUpdated, session, id, context.Now));
        }
    }

    /// <summary>Moves the status (recording the change) and the activity time.</summary>
    public static void SetStatus(IngestContext context, RelaySession session, SessionStatus status, DateTimeOffset at)
    {
        Touch(context, session, at);
        if (session.Status != status)
        {
            session.Status = status;
            SessionUpdated(context, session);
        }
    }

    public static void Touch(IngestContext context, RelaySession session, DateTimeOffset at)
    {
        if (session.LastActivityAt is null || at > session.LastActivityAt)
        {
            session.LastActivityAt = at;
        }

        session.UpdatedAt = context.Now;
    }

    /// <summary>
    /// Saves the batch's session changes, then writes its session entries (with their final state) and builds the
    /// bindings to send once the transaction commits.
    /// </summary>
    public static async Task<IReadOnlyList<SessionBinding>> FinishAsync(IngestContext context, CancellationToken cancellationToken)
    {
        // The caller may send the changes in its next round trip instead of a SaveChanges of their own (see
        // IngestContext.Changes). Only the lineage is read below, and segments are saved as soon as they are added.
        if (!context.DeferChanges || context.Db.ChangeTracker.Entries<Relay.Broker.Persistence.Entities.SessionSegment>().Any(e => e.State != EntityState.Unchanged)
            || ChangeCommands.TryRender(context.Db, versionsChecked: context.VersionsChecked) is not { } changes)
        {
            await context.Db.SaveChangesAsync(cancellationToken);
        }
        else
        {
            context.Changes = changes;
        }

        var ids = context.SessionEvents.Select(e => e.Session.Id).Concat(context.ChangedBindings.Select(s => s.Id)).Distinct().ToList();
        if (ids.Count == 0)
        {
            return [];
        }

        var lineage = (await context.Db.SessionSegments
                .Where(s => ids.Contains(s.RelaySessionId))
                .Select(s => new { s.RelaySessionId, s.ClaudeSessionId, s.Ordinal })
                .ToListAsync(cancellationToken))
            .GroupBy(s => s.RelaySessionId)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Ordinal).Select(s => s.ClaudeSessionId).ToList());

        foreach (var request in context.SessionEvents)
        {
            var current = lineage.TryGetValue(request.Session.Id, out var l) && l.Count > 0 ? l[^1] : (Guid?)null;
            var payload = SessionProtos.ToSession(request.Session, context.Machine.Name, current);
            context.AddEvent(request.Kind, request.EventId, request.Session.Id, request.OccurredAt, payload);
        }

        return context.ChangedBindings
            .Select(s => SessionProtos.ToBinding(s, lineage.GetValueOrDefault(s.Id) ?? []))
            .ToList();
    }
}
