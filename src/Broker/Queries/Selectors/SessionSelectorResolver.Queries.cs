using Relay.Broker.Queries.Sessions;

namespace Relay.Broker.Queries.Selectors;

internal sealed partial class SessionSelectorResolver
{
    private static string SessionIdIs(string key) => $"s.id = {key}";

    private static string InClaudeLineage(string key) => $"s.id IN (SELECT g.relay_session_id FROM session_segments g WHERE g.claude_session_id = {key})";

    private static string LaunchIdIs(string key) => $"s.launch_id = {key}";

    private Task<List<SessionRow>> BySessionIdAsync(Guid id, MachineRef? scope, CancellationToken cancellationToken) =>
        QueryAsync((sql, p) => SessionIdIs(p(id)), scope, cancellationToken);

    private Task<List<SessionRow>> ByClaudeSessionIdAsync(Guid id, MachineRef? scope, CancellationToken cancellationToken) =>
        QueryAsync((sql, p) => InClaudeLineage(p(id)), scope, cancellationToken);

    private Task<List<SessionRow>> ByLaunchIdAsync(Guid id, MachineRef? scope, CancellationToken cancellationToken) =>
        QueryAsync((sql, p) => LaunchIdIs(p(id)), scope, cancellationToken);

    /// <summary>Sessions whose id, or any Claude session id of whose lineage, starts with <paramref name="prefix"/>.</summary>
    private Task<List<SessionRow>> ByPrefixAsync(string prefix, MachineRef? scope, CancellationToken cancellationToken) =>
        QueryAsync(
            (sql, p) =>
            {
                var pattern = p(prefix + "%");
                return $"(s.id::text LIKE {pattern} OR EXISTS (SELECT 1 FROM session_segments g " +
                       $"WHERE g.relay_session_id = s.id AND g.claude_session_id::text LIKE {pattern}))";
            },
            scope, cancellationToken);

    /// <summary>
    /// The sessions a name selects: every live one with the name, or when none is live, the most recently active ended
    /// one (common.proto).
    /// </summary>
    private async Task<List<SessionRow>> ByNameAsync(string name, MachineRef? scope, CancellationToken cancellationToken)
    {
        var live = await QueryAsync((sql, p) => $"s.name = {p(name)} AND s.status <> 'ended'", scope, cancellationToken);
        if (live.Count > 0)
        {
            return live;
        }

        var ended = await QueryAsync((sql, p) => $"s.name = {p(name)} AND s.status = 'ended'", scope, cancellationToken);
        return ended.Take(1).ToList();
    }

    private async Task<List<SessionRow>> QueryAsync(
        Func<SqlBuilder, Func<object, string>, string> where,
        MachineRef? scope,
        CancellationToken cancellationToken)
    {
        await using var command = Build(where, scope).CreateCommand(dataSource);
        return await SessionSql.ReadAllAsync(command, cancellationToken);
    }

    /// <summary>The sessions <paramref name="where"/> selects, most recently active first, one more than a list of candidates shows.</summary>
    private SqlBuilder Build(Func<SqlBuilder, Func<object, string>, string> where, MachineRef? scope)
    {
        var sql = SessionSql.Select(timeProvider.GetUtcNow());
        string P(object value) => value switch
        {
            Guid g => sql.Param(g),
            string s => sql.Param(s),
            _ => throw new ArgumentOutOfRangeException(nameof(value)),
        };

        sql.Append(" WHERE ").Append(where(sql, P));
        if (scope is not null)
        {
            sql.Append(" AND s.machine_id = ").Append(sql.Param(scope.Id));
        }

        sql.Append(" ORDER BY ").Append(SessionSql.LastActivity).Append(" DESC LIMIT ")
            .Append((MaxCandidates + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return sql;
    }
}
