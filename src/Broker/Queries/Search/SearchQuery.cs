using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Validation;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Search;

/// <summary>
/// SearchSessions: PostgreSQL full-text search over prompts and replies (their generated tsvector columns and GIN
/// indexes), best match first, with an excerpt around the match from ts_headline.
/// </summary>
internal sealed partial class SearchQuery(
    NpgsqlDataSource dataSource,
    SessionSelectorResolver resolver,
    MachineResolver machines,
    SessionReader sessions,
    SearchHitLoader hits,
    IOptions<QueriesOptions> options)
{
    public const int MaxQueryLength = 1000;

    // ts_headline works on the page only (it re-parses each text), never on every match.
    private const string Headline = "'StartSel=«, StopSel=», MaxWords=35, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"'";

    public async Task<SearchSessionsResponse> SearchAsync(SearchSessionsRequest request, CancellationToken cancellationToken)
    {
        RequestValidation.Text(request.Query, "query", MaxQueryLength, required: true);
        var pageSize = RequestValidation.PageSize(request.PageSize, options.Value.DefaultPageSize, options.Value.MaxPageSize);
        var kinds = request.Kinds.Count == 0 ? [EventKind.PromptCreated, EventKind.Reply] : request.Kinds.Distinct().ToList();
        for (var i = 0; i < request.Kinds.Count; i++)
        {
            if (request.Kinds[i] is not (EventKind.PromptCreated or EventKind.Reply))
            {
                throw AdminErrors.InvalidArgument($"kinds[{i}]", "search covers EVENT_KIND_PROMPT_CREATED and EVENT_KIND_REPLY only.");
            }
        }

        var since = Require.OptionalTimestamp(request.Since, "since");
        var until = Require.OptionalTimestamp(request.Until, "until");
        var session = request.Session is null ? null : await resolver.ResolveAsync(request.Session, "session", cancellationToken);
        var machine = string.IsNullOrEmpty(request.Machine) ? null : await machines.ResolveAsync(request.Machine, "machine", cancellationToken);

        var fingerprint = PageTokens.Fingerprint(request.Query, session?.Id, machine?.Id, kinds.Order(), since?.UtcTicks, until?.UtcTicks);
        var offset = PageTokens.Decode<Position>(request.PageToken, fingerprint, p => p.F)?.O ?? 0;
        if (offset >= options.Value.MaxSearchDepth)
        {
            throw AdminErrors.InvalidArgument("page_token", $"search pages stop at {options.Value.MaxSearchDepth} results; narrow the query instead.");
        }

        var sql = new SqlBuilder("");
        var query = sql.Param(request.Query);
        var filters = Filters(sql, session?.Id, machine?.Id, since, until);
        var parts = new List<string>();
        if (kinds.Contains(EventKind.PromptCreated))
        {
            parts.Add($"SELECT 'p' AS k, t.id, t.relay_session_id, t.created_at, ts_rank(t.search_vector, q.q) AS rank FROM prompts t, q WHERE t.search_vector @@ q.q{filters}");
        }

        if (kinds.Contains(EventKind.Reply))
        {
            parts.Add($"SELECT 'r' AS k, t.id, t.relay_session_id, t.created_at, ts_rank(t.search_vector, q.q) AS rank FROM replies t, q WHERE t.search_vector @@ q.q{filters}");
        }

        sql.Append($"""
            WITH q AS (SELECT websearch_to_tsquery('{Limits.TextSearchConfig}', {query}) AS q),
                 page AS (SELECT * FROM ({string.Join(" UNION ALL ", parts)}) hits
                          ORDER BY rank DESC, created_at DESC, id LIMIT {sql.Param(pageSize + 1)} OFFSET {sql.Param(offset)})
            SELECT page.k, page.id, page.relay_session_id, page.rank::float8,
                   ts_headline('{Limits.TextSearchConfig}',
                               CASE page.k WHEN 'p' THEN (SELECT text FROM prompts WHERE id = page.id)
                                           ELSE (SELECT text FROM replies WHERE id = page.id) END,
                               q.q, {Headline})
            FROM page, q
            ORDER BY page.rank DESC, page.created_at DESC, page.id
            """);

        var matches = new List<Match>();
        await using (var command = sql.CreateCommand(dataSource))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                matches.Add(new Match(reader.GetString(0) == "p", reader.GetGuid(1), reader.GetGuid(2), reader.GetDouble(3), reader.GetString(4)));
            }
        }

        var response = new SearchSessionsResponse();
        var page = matches.Take(pageSize).ToList();
        var sessionRows = await sessions.GetManyAsync(page.Select(m => m.SessionId).ToHashSet(), cancellationToken);
        var events = await hits.LoadAsync(page, sessionRows, cancellationToken);
        foreach (var match in page)
        {
            if (events.TryGetValue(match.Id, out var e) && sessionRows.TryGetValue(match.SessionId, out var row))
            {
                response.Hits.Add(new SearchHit { Session = SessionMapper.ToProto(row), Event = e, Snippet = match.Snippet, Rank = match.Rank });
            }
        }

        if (matches.Count > pageSize)
        {
            response.NextPageToken = PageTokens.Encode(new Position(offset + pageSize, fingerprint));
        }

        return response;
    }

    private static string Filters(SqlBuilder sql, Guid? sessionId, Guid? machineId, DateTimeOffset? since, DateTimeOffset? until)
    {
        var filters = "";
        if (sessionId is { } s)
        {
            filters += $" AND t.relay_session_id = {sql.Param(s)}";
        }

        if (machineId is { } m)
        {
            filters += $" AND t.relay_session_id IN (SELECT id FROM sessions WHERE machine_id = {sql.Param(m)})";
        }

        if (since is { } from)
        {
            filters += $" AND t.created_at >= {sql.Param(from.ToUniversalTime())}";
        }

        if (until is { } to)
        {
            filters += $" AND t.created_at < {sql.Param(to.ToUniversalTime())}";
        }

        return filters;
    }

    /// <summary>One matching prompt (<see cref="IsPrompt"/>) or reply.</summary>
    internal sealed record Match(bool IsPrompt, Guid Id, Guid SessionId, double Rank, string Snippet);

    private sealed record Position(int O, string F);
}
