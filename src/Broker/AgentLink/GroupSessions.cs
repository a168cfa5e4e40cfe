using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.AgentLink;

/// <summary>
/// The sessions a group's hook events name, read in one query when the group starts, so that each batch's session
/// lookup (SessionReconciler's find by the stream's cached id) needs no round trip of its own.
/// </summary>
/// <remarks>
/// Read after the group took the event-order lock, so no other transaction changes these rows until the commit: every
/// other writer of sessions writes the event log and takes the lock first. Only the group's own batches could, so a
/// session any batch tracked (changed, saved, or rolled back with its savepoint) is dropped before the next batch: it
/// is looked up again, as without the preload. A session that is not preloaded is simply looked up.
/// </remarks>
internal sealed class GroupSessions
{
    private readonly Dictionary<Guid, RelaySession> _sessions;
    private readonly Dictionary<InboundBatch, List<Guid>> _named;

    private GroupSessions(Dictionary<Guid, RelaySession> sessions, Dictionary<InboundBatch, List<Guid>> named) => (_sessions, _named) = (sessions, named);

    /// <summary>Reads the sessions the batches' hook events name (by Claude session id through their streams' caches, or by Relay session id).</summary>
    public static async Task<GroupSessions> LoadAsync(RelayDbContext db, IEnumerable<InboundBatch> batches, CancellationToken cancellationToken)
    {
        var named = new Dictionary<InboundBatch, List<Guid>>(ReferenceEqualityComparer.Instance);
        foreach (var batch in batches)
        {
            named.TryAdd(batch, Named(batch));
        }

        var ids = named.Values.SelectMany(n => n).Distinct().ToArray();
        var sessions = ids.Length == 0
            ? []
            : await db.Sessions.AsNoTracking().Where(s => ids.Contains(s.Id)).ToDictionaryAsync(s => s.Id, cancellationToken);
        return new GroupSessions(sessions, named);
    }

    /// <summary>Tracks the preloaded sessions <paramref name="batch"/> names, unchanged, so that finding them by id reads no row.</summary>
    public void Attach(RelayDbContext db, InboundBatch batch)
    {
        foreach (var id in _named.GetValueOrDefault(batch) ?? [])
        {
            if (_sessions.Remove(id, out var session))
            {
                db.Sessions.Attach(session);
            }
        }
    }

    /// <summary>Drops every session the context tracks: the batch that tracked it may have changed it.</summary>
    public void Forget(RelayDbContext db)
    {
        foreach (var entry in db.ChangeTracker.Entries<RelaySession>())
        {
            _sessions.Remove(entry.Entity.Id);
        }
    }

    /// <summary>Number of sessions still preloaded (for tests).</summary>
    internal int Count => _sessions.Count;

    /// <summary>The ids a batch's hook events name; a batch's events mostly name one session, so repeats are skipped cheaply.</summary>
    private static List<Guid> Named(InboundBatch batch)
    {
        var ids = new List<Guid>(2);
        string? lastClaudeId = null, lastSessionId = null;
        foreach (var item in batch.Items)
        {
            if (item.Message.HookEvent?.Session is not { } evidence)
            {
                continue;
            }

            if (!string.Equals(evidence.ClaudeSessionId, lastClaudeId, StringComparison.Ordinal))
            {
                lastClaudeId = evidence.ClaudeSessionId;
                if (Guid.TryParse(lastClaudeId, out var claudeId) && batch.Cache.TryGetByClaudeId(claudeId, out var cached) && !ids.Contains(cached))
                {
                    ids.Add(cached);
                }
            }

            if (!string.Equals(evidence.SessionId, lastSessionId, StringComparison.Ordinal))
            {
                lastSessionId = evidence.SessionId;
                if (Guid.TryParse(lastSessionId, out var sessionId) && !ids.Contains(sessionId))
                {
                    ids.Add(sessionId);
                }
            }
        }

        return ids;
    }
}
