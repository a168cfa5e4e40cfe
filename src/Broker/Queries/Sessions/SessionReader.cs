using Npgsql;

namespace Relay.Broker.Queries.Sessions;

/// <summary>Loads sessions by id in the shape <see cref="SessionRow"/> describes.</summary>
internal sealed class SessionReader(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    public async Task<SessionRow?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var rows = await GetManyAsync([id], cancellationToken);
        return rows.GetValueOrDefault(id);
    }

    public async Task<Dictionary<Guid, SessionRow>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var sql = SessionSql.Select(timeProvider.GetUtcNow());
        sql.Append(" WHERE s.id = ANY(" + sql.Param(ids.Distinct().ToArray()) + ")");
        await using var command = sql.CreateCommand(dataSource);
        var rows = await SessionSql.ReadAllAsync(command, cancellationToken);
        return rows.ToDictionary(r => r.Id);
    }
}
