using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Protocol.V1;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;

namespace Relay.Broker.AgentLink;

/// <summary>
/// What a group's batches will look up by key (the sessions their messages name, the prompts their receipts and
/// replies name, whether their replies are stored already), read in the group's first round trip, right after the
/// event-order lock and the fences. Each lookup would otherwise be a round trip of its own, under the lock: a prompt's
/// receipt took five round trips and its reply six; with the changes sent alongside the event rows (ChangeCommands),
/// two each.
/// </summary>
/// <remarks>
/// <para>Never stale: the rows are read after the group took the event-order lock, and every other writer of sessions,
/// prompts and replies writes the event log, so takes that lock first. (A prompt's row version is also its concurrency
/// token: an update that raced anyway fails instead of overwriting.) Only the group's own batches could change a row in
/// between (a reply touches the session that sent the prompt, which may be another machine's), so an entity any batch
/// tracked (changed, saved, or rolled back with its savepoint) is dropped before the next batch and looked up again.</para>
/// <para>Each batch gets the entities it names, attached to its context unchanged, so the handlers' <c>FindAsync</c> by
/// key reads no row. What is not preloaded (a session found through its segments, a launch) is looked up as before.</para>
/// </remarks>
internal sealed class GroupPreload
{
    // One array, so that the primary key is searched: with an OR of the two conditions PostgreSQL scans every session.
    private const string SessionsWhere = " WHERE t.id = ANY($1 || ARRAY(SELECT p.relay_session_id FROM prompts p WHERE p.id = ANY($2)))";
    private const string PromptsWhere = " WHERE t.id = ANY($1)";
    private const string StoredRepliesSql = "SELECT id FROM replies WHERE id = ANY($1)";

    private readonly Dictionary<InboundBatch, Names> _names;
    private readonly Guid[] _sessionIds;
    private readonly Guid[] _promptIds;
    private readonly Guid[] _replyIds;
    private readonly Dictionary<Guid, RelaySession> _sessions = [];
    private readonly Dictionary<Guid, Prompt> _prompts = [];
    private readonly HashSet<Guid> _storedReplies = [];
    private readonly HashSet<Guid> _repliesHandedOut = [];

    private GroupPreload(Dictionary<InboundBatch, Names> names)
    {
        _names = names;
        _sessionIds = names.Values.SelectMany(n => n.Sessions).Distinct().ToArray();
        _promptIds = names.Values.SelectMany(n => n.Prompts).Distinct().ToArray();
        _replyIds = names.Values.SelectMany(n => n.Replies).Distinct().ToArray();
    }

    /// <summary>Number of entities still preloaded (for tests).</summary>
    internal int Count => _sessions.Count + _prompts.Count;

    /// <summary>What <paramref name="batches"/> name; nothing is read yet.</summary>
    public static GroupPreload For(IEnumerable<InboundBatch> batches)
    {
        var names = new Dictionary<InboundBatch, Names>(ReferenceEqualityComparer.Instance);
        foreach (var batch in batches)
        {
            names.TryAdd(batch, Named(batch));
        }

        return new GroupPreload(names);
    }

    /// <summary>Adds the lookups to <paramref name="batch"/> (nothing when the batches name nothing).</summary>
    public void AddTo(NpgsqlBatch batch, RelayDbContext db)
    {
        if (_promptIds.Length > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(EntityRows<Prompt>.For(db.Model).Select + PromptsWhere) { Parameters = { Ids(_promptIds) } });
        }

        if (_sessionIds.Length > 0 || _promptIds.Length > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(EntityRows<RelaySession>.For(db.Model).Select + SessionsWhere)
            {
                Parameters = { Ids(_sessionIds), Ids(_promptIds) },
            });
        }

        if (_replyIds.Length > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(StoredRepliesSql) { Parameters = { Ids(_replyIds) } });
        }
    }

    /// <summary>Reads the results of what <see cref="AddTo"/> added, from the reader positioned on the result before them.</summary>
    public async Task ReadAsync(NpgsqlDataReader reader, RelayDbContext db, CancellationToken cancellationToken)
    {
        if (_promptIds.Length > 0 && await reader.NextResultAsync(cancellationToken))
        {
            var rows = EntityRows<Prompt>.For(db.Model);
            while (await reader.ReadAsync(cancellationToken))
            {
                var prompt = rows.Read(reader);
                _prompts[prompt.Id] = prompt;
            }
        }

        if ((_sessionIds.Length > 0 || _promptIds.Length > 0) && await reader.NextResultAsync(cancellationToken))
        {
            var rows = EntityRows<RelaySession>.For(db.Model);
            while (await reader.ReadAsync(cancellationToken))
            {
                var session = rows.Read(reader);
                _sessions[session.Id] = session;
            }
        }

        if (_replyIds.Length > 0 && await reader.NextResultAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                _storedReplies.Add(reader.GetGuid(0));
            }
        }
    }

    /// <summary>
    /// Hands <paramref name="batch"/> what it names: the sessions and prompts, tracked unchanged by its context, and the
    /// replies already stored (<see cref="IngestContext.StoredReplies"/>). Each entity is handed out once.
    /// </summary>
    public void Attach(IngestContext context, InboundBatch batch)
    {
        if (!_names.TryGetValue(batch, out var names))
        {
            return;
        }

        foreach (var id in names.Prompts)
        {
            if (_prompts.Remove(id, out var prompt))
            {
                context.Db.Prompts.Attach(prompt);
                names.Sessions.Add(prompt.RelaySessionId); // a receipt checks the prompt's session
            }
        }

        foreach (var id in names.Sessions)
        {
            if (_sessions.Remove(id, out var session))
            {
                context.Db.Sessions.Attach(session);
            }
        }

        // A reply named by an earlier batch of the group may have been stored or rolled back since: looked up again.
        if (names.Replies.Count > 0 && !names.Replies.Any(_repliesHandedOut.Contains))
        {
            context.StoredReplies = names.Replies.Where(_storedReplies.Contains).ToHashSet();
        }

        _repliesHandedOut.UnionWith(names.Replies);
    }

    /// <summary>Drops every preloaded entity the context tracks: the batch that tracked it may have changed it.</summary>
    public void Forget(RelayDbContext db)
    {
        foreach (var entry in db.ChangeTracker.Entries<RelaySession>())
        {
            _sessions.Remove(entry.Entity.Id);
        }

        foreach (var entry in db.ChangeTracker.Entries<Prompt>())
        {
            _prompts.Remove(entry.Entity.Id);
        }
    }

    private static NpgsqlParameter<Guid[]> Ids(Guid[] ids) => new() { TypedValue = ids };

    /// <summary>
    /// The keys a batch names: sessions through its hooks', receipts' and replies' evidence (by Claude session id through
    /// the stream's cache, or by Relay session id), the prompts its receipts and replies name, and its replies' ids.
    /// A batch's messages mostly name one session, so repeats are skipped cheaply.
    /// </summary>
    internal static Names Named(InboundBatch batch)
    {
        var names = new Names();
        string? lastClaudeId = null, lastSessionId = null;
        foreach (var item in batch.Items)
        {
            var message = item.Message;
            var evidence = message.BodyCase switch
            {
                AgentMessage.BodyOneofCase.HookEvent => message.HookEvent.Session,
                AgentMessage.BodyOneofCase.PromptReceipt => message.PromptReceipt.Session,
                AgentMessage.BodyOneofCase.Reply => message.Reply.Session,
                _ => null,
            };
            switch (message.BodyCase)
            {
                case AgentMessage.BodyOneofCase.PromptReceipt when Guid.TryParse(message.PromptReceipt.PromptId, out var receiptOf):
                    names.Prompts.Add(receiptOf);
                    break;
                case AgentMessage.BodyOneofCase.Reply:
                    if (Guid.TryParse(message.Reply.InReplyTo, out var replyTo))
                    {
                        names.Prompts.Add(replyTo);
                    }

                    if (Guid.TryParse(message.Reply.ReplyId, out var replyId))
                    {
                        names.Replies.Add(replyId);
                    }

                    break;
            }

            if (evidence is null)
            {
                continue;
            }

            if (!string.Equals(evidence.ClaudeSessionId, lastClaudeId, StringComparison.Ordinal))
            {
                lastClaudeId = evidence.ClaudeSessionId;
                if (Guid.TryParse(lastClaudeId, out var claudeId) && batch.Cache.TryGetByClaudeId(claudeId, out var cached))
                {
                    names.Sessions.Add(cached);
                }
            }

            if (!string.Equals(evidence.SessionId, lastSessionId, StringComparison.Ordinal))
            {
                lastSessionId = evidence.SessionId;
                if (Guid.TryParse(lastSessionId, out var sessionId))
                {
                    names.Sessions.Add(sessionId);
                }
            }
        }

        return names;
    }

    internal sealed class Names
    {
        public HashSet<Guid> Sessions { get; } = [];

        public HashSet<Guid> Prompts { get; } = [];

        public HashSet<Guid> Replies { get; } = [];
    }
}
