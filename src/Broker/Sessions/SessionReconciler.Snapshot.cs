using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using LaunchStatus = Relay.Broker.Persistence.Entities.LaunchStatus;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Sessions;

internal sealed partial class SessionReconciler
{
    /// <summary>
    /// The agent's complete list of live Claude processes: each is joined to (or becomes) a session, and every other
    /// non-ended session of the machine ends (NOT_IN_SNAPSHOT): no ghosts. Being sequenced, the snapshot comes after
    /// every event the agent spooled before taking it, so nothing older can revive what it ends.
    /// </summary>
    public async Task ApplySnapshotAsync(IngestContext context, SessionSnapshot snapshot, CancellationToken cancellationToken)
    {
        var live = new HashSet<Guid>();
        for (var i = 0; i < snapshot.Sessions.Count; i++)
        {
            var item = snapshot.Sessions[i];
            var field = $"session_snapshot.sessions[{i}]";
            var evidence = Evidence.Read(item.Session, field + ".session");
            if (evidence.IsEmpty)
            {
                throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field}.session names no Claude session id, Relay session, launch or process.");
            }

            var lineage = item.ClaudeSessionIds.Select((id, j) => Evidence.RequiredUuid(id, $"{field}.claude_session_ids[{j}]")).ToList();
            var session = await ResolveAsync(context, evidence, new Hint(Reopens: true), cancellationToken);
            live.Add(session.Id);
            await AddMissingLineageAsync(context, session, lineage, cancellationToken);

            if (session.ChannelAttached != item.ChannelAttached)
            {
                session.ChannelAttached = item.ChannelAttached;
                session.ChannelId = item.ChannelAttached ? session.ChannelId : null;
                SessionUpdated(context, session);
            }

            if (string.IsNullOrEmpty(session.Name) && item.Name.Length is > 0 and <= Limits.Name)
            {
                session.Name = item.Name;
                context.BindingChanged(session);
                SessionUpdated(context, session);
            }

            if (item.TmuxTarget.Length is > 0 and <= Limits.Actor)
            {
                session.TmuxTarget = item.TmuxTarget;
            }

            if (session.Status == SessionStatus.Starting)
            {
                SetStatus(context, session, SessionStatus.Idle, context.Now);
            }
        }

        var machineId = context.Machine.Id;
        var others = await context.Db.Sessions
            .Where(s => s.MachineId == machineId && s.Status != SessionStatus.Ended && !live.Contains(s.Id))
            // A launch the agent has not started yet has no process to list.
            .Where(s => !(s.Status == SessionStatus.Starting && context.Db.Launches.Any(l =>
                (l.RelaySessionId == s.Id || l.Id == s.LaunchId) && (l.Status == LaunchStatus.Requested || l.Status == LaunchStatus.Sent))))
            .ToListAsync(cancellationToken);

        var at = snapshot.TakenAt?.ToDateTimeOffset() ?? context.Now;
        var ended = 0;
        foreach (var ghost in others.Where(s => s.Status != SessionStatus.Ended && !live.Contains(s.Id)))
        {
            await EndAsync(context, ghost, SessionEndReasons.NotInSnapshot, at, cancellationToken);
            ended++;
        }

        if (ended > 0)
        {
            SessionsLog.SnapshotEndedSessions(logger, machineId, ended);
        }
    }

    /// <summary>Adds lineage ids the broker never saw (events dropped, or the agent started before the broker knew it).</summary>
    private async Task AddMissingLineageAsync(IngestContext context, RelaySession session, List<Guid> lineage, CancellationToken cancellationToken)
    {
        if (lineage.Count == 0)
        {
            return;
        }

        var known = await context.Db.SessionSegments
            .Where(s => lineage.Contains(s.ClaudeSessionId))
            .Select(s => new { s.ClaudeSessionId, s.RelaySessionId })
            .ToListAsync(cancellationToken);
        foreach (var claudeId in lineage)
        {
            var owner = known.FirstOrDefault(k => k.ClaudeSessionId == claudeId);
            if (owner is null)
            {
                await AddSegmentAsync(context, session, claudeId, source: null, transcriptPath: null, cancellationToken);
            }
            else if (owner.RelaySessionId != session.Id)
            {
                // An id of another session (this process resumed it): it stays where it is, as the rule says.
                continue;
            }
        }
    }
}
