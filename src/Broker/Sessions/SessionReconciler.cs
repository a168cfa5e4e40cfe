using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using SessionSegment = Relay.Broker.Persistence.Entities.SessionSegment;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Sessions;

/// <summary>
/// Joins what agents observe to Relay sessions (DESIGN.md §5): one Claude process is one Relay session; a new Claude
/// session id from the same process or launch is a new segment of it, never a second card. Works inside the inbound
/// batch's transaction through <see cref="IngestContext"/>; one partial file per kind of observation.
/// </summary>
internal sealed partial class SessionReconciler(IEnumerable<ISessionEndObserver> endObservers, ILogger<SessionReconciler> logger)
{
    /// <summary>What the observation says beyond its evidence.</summary>
    /// <param name="StartSource">For SessionStart: how its Claude session id began.</param>
    /// <param name="Reopens">Whether it proves the process is alive (an ended session it names is live again).</param>
    /// <param name="TranscriptPath">The hook's transcript_path, kept on the segment.</param>
    internal readonly record struct Hint(SegmentSource? StartSource = null, bool Reopens = true, string? TranscriptPath = null);

    /// <summary>
    /// The session of this machine that <paramref name="evidence"/> belongs to, created (hand-started) when nothing
    /// matches. Evidence naming another machine's session rejects the message.
    /// </summary>
    public async Task<RelaySession> ResolveAsync(IngestContext context, Evidence evidence, Hint hint, CancellationToken cancellationToken)
    {
        if (evidence.IsEmpty)
        {
            // Nothing to join it to: creating a session for it would make a card nobody can ever match again.
            throw new MessageRejectedException(ErrorCode.InvalidArgument, "session names no Claude session id, Relay session, launch or process.");
        }

        var db = context.Db;
        RelaySession? session = null;
        var claudeIdKnown = false;

        // 1. The Claude session id: it belongs to exactly one Relay session, forever (also after the process ended:
        //    `claude --resume <id>` continues that session).
        if (evidence.ClaudeSessionId is { } claudeId)
        {
            if (context.Cache.TryGetByClaudeId(claudeId, out var cachedId))
            {
                session = await db.Sessions.FindAsync([cachedId], cancellationToken);
                if (session is null)
                {
                    context.Cache.Forget(claudeId);
                }
            }

            if (session is null)
            {
                var owner = await db.SessionSegments.Where(s => s.ClaudeSessionId == claudeId).Select(s => (Guid?)s.RelaySessionId).FirstOrDefaultAsync(cancellationToken);
                session = owner is { } id ? await db.Sessions.FindAsync([id], cancellationToken) : null;
            }

            if (session is not null)
            {
                RequireOwn(context, session, "claude_session_id");
                claudeIdKnown = true;
                context.Cache.Remember(claudeId, session.Id);
            }
        }

        // 2. The Relay session id the agent learnt from a binding. Checked even when (1) matched: an agent may not name
        //    another machine's session, whatever else it says.
        if (evidence.SessionId is { } relayId && relayId != session?.Id)
        {
            var named = await db.Sessions.FindAsync([relayId], cancellationToken);
            if (named is not null)
            {
                RequireOwn(context, named, "session_id");
                session ??= named;
            }
        }

        // 3. The launch: the broker reserved a session (STARTING) when the launch was requested.
        if (session is null && evidence.LaunchId is { } launchId)
        {
            var launched = await db.Sessions.FirstOrDefaultAsync(s => s.LaunchId == launchId, cancellationToken);
            if (launched is not null)
            {
                RequireOwn(context, launched, "launch_id");
                session = launched;
            }
        }

        // 4. The process: a new Claude session id from a process we know (/clear, /resume inside the process).
        if (session is null && evidence.ClaudePid is { } pid)
        {
            session = await FindLiveByProcessAsync(context, pid, evidence.ClaudeStartedAt, exclude: null, cancellationToken);
        }

        // 5. No process evidence on a hook after /clear: the session whose SessionEnd(clear) came just before, same cwd.
        if (session is null && hint.StartSource == SegmentSource.Clear && evidence.ClaudeSessionId is not null
            && context.Cache.TryTakeAwaitingClear(evidence.Cwd, out var clearedId))
        {
            var cleared = await db.Sessions.FindAsync([clearedId], cancellationToken);
            session = cleared is { Status: not SessionStatus.Ended } && cleared.MachineId == context.Machine.Id ? cleared : null;
        }

        var created = session is null;
        session ??= Create(context, evidence);
        await ApplyEvidenceAsync(context, session, evidence, hint, claudeIdKnown, created, cancellationToken);
        return session;
    }

    private static void RequireOwn(IngestContext context, RelaySession session, string field)
    {
        if (session.MachineId != context.Machine.Id)
        {
            // Do not say more: the other machine's session is none of this agent's business.
            throw new MessageRejectedException(ErrorCode.PermissionDenied, $"session.{field} names a session of another machine; an agent speaks only for its own machine.");
        }
    }

    private static RelaySession Create(IngestContext context, Evidence evidence)
    {
        var session = new RelaySession
        {
            Id = Guid.CreateVersion7(context.Now),
            MachineId = context.Machine.Id,
            Cwd = evidence.Cwd,
            ProjectDir = evidence.ProjectDir,
            Status = SessionStatus.Idle,
            CreatedAt = context.Now,
            UpdatedAt = context.Now,
            LastActivityAt = context.Now,
        };
        context.Db.Sessions.Add(session);
        context.SessionEvents.Add(new SessionEventRequest(EventKind.SessionStarted, session, context.DerivedEventId($"session_started/{session.Id:N}"), context.Now));
        context.BindingChanged(session);
        return session;
    }

    private async Task ApplyEvidenceAsync(IngestContext context, RelaySession session, Evidence evidence, Hint hint, bool claudeIdKnown, bool created, CancellationToken cancellationToken)
    {
        var changed = false;
        if (evidence.ClaudePid is { } pid && (session.ClaudePid != pid || (evidence.ClaudeStartedAt is { } s && session.ClaudeStartedAt != s)))
        {
            session.ClaudePid = pid;
            session.ClaudeStartedAt = evidence.ClaudeStartedAt ?? session.ClaudeStartedAt;
            context.BindingChanged(session);
            changed = true;
            await EndOtherSessionsOfProcessAsync(context, session, pid, evidence.ClaudeStartedAt, cancellationToken);
        }

        if (evidence.LaunchId is { } launchId && session.LaunchId is null)
        {
            session.LaunchId = launchId;
            context.BindingChanged(session);
            changed = true;
        }

        if (evidence.Cwd.Length > 0 && session.Cwd != evidence.Cwd)
        {
            session.Cwd = evidence.Cwd;
            changed = true;
        }

        if (evidence.ProjectDir is { } projectDir && session.ProjectDir != projectDir)
        {
            session.ProjectDir = projectDir;
        }

        if (session.Status == SessionStatus.Ended && hint.Reopens)
        {
            Reopen(context, session);
            changed = false; // Reopen records the update itself.
        }

        if (evidence.ClaudeSessionId is { } claudeId && !claudeIdKnown)
        {
            await AddSegmentAsync(context, session, claudeId, hint.StartSource, hint.TranscriptPath, cancellationToken);
        }

        if (changed && !created)
        {
            SessionUpdated(context, session);
        }
    }

    /// <summary>Adds a Claude session id to the lineage (saving at once: the next message may look it up by query).</summary>
    private async Task AddSegmentAsync(IngestContext context, RelaySession session, Guid claudeId, SegmentSource? source, string? transcriptPath, CancellationToken cancellationToken)
    {
        var db = context.Db;
        var last = await db.SessionSegments.Where(s => s.RelaySessionId == session.Id).MaxAsync(s => (int?)s.Ordinal, cancellationToken);
        db.SessionSegments.Add(new SessionSegment
        {
            ClaudeSessionId = claudeId,
            RelaySessionId = session.Id,
            Ordinal = (last ?? -1) + 1,
            // Without a SessionStart to say so, a first id is the process's start and a later one most likely /clear.
            Source = source ?? (last is null ? SegmentSource.Startup : SegmentSource.Clear),
            StartedAt = context.Now,
            TranscriptPath = transcriptPath is { Length: > 0 and <= Persistence.Limits.Path } ? transcriptPath : null,
        });
        await db.SaveChangesAsync(cancellationToken);
        context.Cache.Remember(claudeId, session.Id);
        context.BindingChanged(session);
        if (last is not null)
        {
            context.SessionEvents.Add(new SessionEventRequest(EventKind.SegmentStarted, session, context.DerivedEventId($"segment_started/{claudeId:N}"), context.Now));
            SessionsLog.SegmentAdded(logger, session.Id, claudeId, (last ?? -1) + 1);
        }
    }

    private static async Task<RelaySession?> FindLiveByProcessAsync(IngestContext context, int pid, DateTimeOffset? startedAt, Guid? exclude, CancellationToken cancellationToken)
    {
        var machineId = context.Machine.Id;
        var candidates = await context.Db.Sessions
            .Where(s => s.MachineId == machineId && s.ClaudePid == pid && s.Status != SessionStatus.Ended)
            .OrderByDescending(s => s.UpdatedAt)
            .ToListAsync(cancellationToken);

        // A pid can be reused by a later process: when both start times are known they must agree. (Tracked entities
        // keep this batch's changes, so one ended a moment ago is filtered here even before it is saved.)
        return candidates.FirstOrDefault(s => s.Id != exclude && s.Status != SessionStatus.Ended
            && (startedAt is null || s.ClaudeStartedAt is null || s.ClaudeStartedAt == startedAt));
    }

    /// <summary>One process is one session: another live session claiming the same process is over (interactive /resume).</summary>
    private async Task EndOtherSessionsOfProcessAsync(IngestContext context, RelaySession session, int pid, DateTimeOffset? startedAt, CancellationToken cancellationToken)
    {
        while (await FindLiveByProcessAsync(context, pid, startedAt, session.Id, cancellationToken) is { } other)
        {
            await EndAsync(context, other, SessionEndReasons.Exited, context.Now, cancellationToken);
        }
    }
}
