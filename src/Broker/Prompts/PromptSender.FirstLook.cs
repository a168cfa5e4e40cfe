using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.Delivery;
using Relay.Broker.Persistence;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Prompts;

internal sealed partial class PromptSender
{
    // The prompt a sender already stored under an idempotency key: what a retry is compared with.
    private const string EarlierByKey = """
        SELECT id, idempotency_key, relay_session_id, text, in_reply_to FROM prompts
        WHERE sender_kind = $1 AND sender_id = $2 AND idempotency_key = $3
        """;

    private static readonly string PersonSender = SnakeCaseEnumConverter<Db.SenderKind>.ToText(Db.SenderKind.Person);

    /// <summary>
    /// Everything SendPrompt reads before its transaction, in one round trip: the prompt stored earlier under
    /// <paramref name="key"/> (a retry), and, for a selector one statement resolves (by session id, Claude session id or
    /// launch id), the session and what is queued for its machine (the fill's first look, which would otherwise be a round
    /// trip inside the transaction). A name or lookup is resolved later, by the resolver, as before. No round trip when
    /// there is neither a key nor such a selector.
    /// </summary>
    /// <remarks>
    /// Reading all of this on one connection before the transaction changes nothing it is used for. The key lookup and
    /// the session were read outside the transaction before, and a retry is still told apart by the same row (a concurrent
    /// duplicate is caught by the unique index at the insert, as before). The queued work only chooses the fill's path
    /// (see OutboxFiller.FillJustQueuedAsync): it was read before the event-order lock already, so anything queued after it
    /// has always been its own writer's to fill or signal.
    /// </remarks>
    private async Task<FirstLook> LookAsync(Caller caller, string? key, SessionSelector selector, CancellationToken cancellationToken)
    {
        var direct = SessionSelectorResolver.Direct(selector);
        if (key is null && direct is null)
        {
            return new FirstLook(null, null, [], null);
        }

        await using var batch = dataSource.CreateBatch();
        if (key is not null)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(EarlierByKey)
            {
                Parameters =
                {
                    new NpgsqlParameter<string> { TypedValue = PersonSender },
                    new NpgsqlParameter<string> { TypedValue = caller.Id },
                    new NpgsqlParameter<string> { TypedValue = key },
                },
            });
        }

        if (direct is not null)
        {
            batch.BatchCommands.Add(resolver.Command(direct));
            batch.BatchCommands.Add(OutboxFiller.QueuedWorkCommand(direct.Where, direct.Key));
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        EarlierPrompt? earlier = null;
        if (key is not null)
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                earlier = new EarlierPrompt(
                    reader.GetGuid(0), reader.GetString(1), reader.GetGuid(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetGuid(4));
            }

            await reader.NextResultAsync(cancellationToken);
        }

        if (direct is null)
        {
            return new FirstLook(earlier, null, [], null);
        }

        var sessions = await SessionSql.ReadAllAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return new FirstLook(earlier, direct, sessions, await OutboxFiller.ReadQueuedWorkAsync(reader, cancellationToken));
    }

    /// <summary>What <see cref="LookAsync"/> read.</summary>
    /// <param name="Earlier">The prompt stored earlier under the request's key, if any.</param>
    /// <param name="Direct">The selector, when the look resolved it; null for one the resolver resolves.</param>
    /// <param name="Sessions">The sessions <paramref name="Direct"/> matched.</param>
    /// <param name="Queued">What is queued for the machine of each of them.</param>
    private sealed record FirstLook(EarlierPrompt? Earlier, DirectSessionSelector? Direct, List<SessionRow> Sessions, Dictionary<Guid, QueuedWork>? Queued)
    {
        /// <summary>The target session, with the errors ResolveAsync gives.</summary>
        public async Task<SessionRow> SessionAsync(SessionSelectorResolver resolver, SessionSelector selector, CancellationToken cancellationToken) =>
            Direct is null ? await resolver.ResolveAsync(selector, "session", cancellationToken) : Direct.Single(Sessions);

        /// <summary>The fill's first look for <paramref name="session"/>, when this look read it.</summary>
        public JustQueuedLook? QueuedFor(SessionRow session) =>
            Queued is not null && Queued.TryGetValue(session.MachineId, out var work) ? new JustQueuedLook(work, session.ClaudeSessionId) : null;
    }

    /// <summary>Of a prompt stored earlier under an idempotency key, what a retry must repeat.</summary>
    private sealed record EarlierPrompt(Guid Id, string IdempotencyKey, Guid RelaySessionId, string Text, Guid? InReplyTo)
    {
        public static EarlierPrompt Of(Db.Prompt prompt) => new(prompt.Id, prompt.IdempotencyKey, prompt.RelaySessionId, prompt.Text, prompt.InReplyTo);
    }
}
