using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Queries.Selectors;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Sessions;

/// <summary>ListSessions: filters combined with AND, most recently active first, keyset-paged so pages never shift.</summary>
internal sealed class SessionListQuery(
    NpgsqlDataSource dataSource,
    MachineResolver machines,
    IOptions<QueriesOptions> options,
    TimeProvider timeProvider)
{
    private const int MaxTextFilter = 256;

    public async Task<ListSessionsResponse> ListAsync(ListSessionsRequest request, CancellationToken cancellationToken)
    {
        var pageSize = RequestValidation.PageSize(request.PageSize, options.Value.DefaultPageSize, options.Value.MaxPageSize);
        RequestValidation.Text(request.Text, "text", MaxTextFilter, required: false);
        RequestValidation.Name(request.Name, "name");
        RequestValidation.Text(request.Directory, "directory", Persistence.Limits.Path, required: false);
        var statuses = request.Statuses.Select((s, i) => SessionMapper.FromProto(s)
            ?? throw AdminErrors.InvalidArgument($"statuses[{i}]", $"{s} is not a session status.")).Distinct().ToList();
        var machine = string.IsNullOrEmpty(request.Machine) ? null : await machines.ResolveAsync(request.Machine, "machine", cancellationToken);

        var fingerprint = PageTokens.Fingerprint(machine?.Id, statuses.Order(), request.Directory, request.Text, request.Name, request.IncludeEnded);
        var after = PageTokens.Decode<Position>(request.PageToken, fingerprint, p => p.F);

        var sql = SessionSql.Select(timeProvider.GetUtcNow());
        sql.Append(" WHERE TRUE");
        if (machine is not null)
        {
            sql.Append(" AND s.machine_id = ").Append(sql.Param(machine.Id));
        }

        if (statuses.Count > 0)
        {
            sql.Append(" AND s.status = ANY(").Append(sql.Param(statuses.Select(EnumText<Persistence.Entities.SessionStatus>.ToText).ToArray())).Append(")");
        }
        else if (!request.IncludeEnded)
        {
            sql.Append(" AND s.status <> 'ended'");
        }

        if (request.Directory.Length > 0)
        {
            AppendDirectory(sql, request.Directory);
        }

        if (request.Text.Length > 0)
        {
            var pattern = sql.Param(LikePattern.Contains(request.Text));
            sql.Append($" AND (s.name ILIKE {pattern} OR s.cwd ILIKE {pattern} OR s.project_dir ILIKE {pattern} OR s.id::text ILIKE {pattern}")
               .Append($" OR EXISTS (SELECT 1 FROM session_segments g WHERE g.relay_session_id = s.id AND g.claude_session_id::text ILIKE {pattern}))");
        }

        if (request.Name.Length > 0)
        {
            sql.Append(" AND s.name = ").Append(sql.Param(request.Name));
        }

        if (after is not null)
        {
            sql.Append($" AND ({SessionSql.LastActivity}, s.id) < ({sql.Param(after.U)}, {sql.Param(after.I)})");
        }

        sql.Append($" ORDER BY {SessionSql.LastActivity} DESC, s.id DESC LIMIT ").Append(sql.Param(pageSize + 1));
        await using var command = sql.CreateCommand(dataSource);
        var rows = await SessionSql.ReadAllAsync(command, cancellationToken);

        var response = new ListSessionsResponse();
        response.Sessions.AddRange(rows.Take(pageSize).Select(r => SessionMapper.ToProto(r)));
        if (rows.Count > pageSize)
        {
            var last = rows[pageSize - 1];
            response.NextPageToken = PageTokens.Encode(new Position(last.LastActivityAt, last.Id, fingerprint));
        }

        return response;
    }

    /// <summary>This directory or below it, for the cwd or the project dir; "/a/b/" and "/a/b" mean the same.</summary>
    private static void AppendDirectory(SqlBuilder sql, string directory)
    {
        var normalized = directory.Length > 1 ? directory.TrimEnd('/') : directory;
        if (normalized.Length == 0 || normalized == "/")
        {
            return;
        }

        var exact = sql.Param(normalized);
        var below = sql.Param(LikePattern.Escape(normalized) + "/%");
        sql.Append($" AND (s.cwd = {exact} OR s.cwd LIKE {below} OR s.project_dir = {exact} OR s.project_dir LIKE {below})");
    }

    /// <summary>Keyset position: the last session of the page (updated_at, id) and the filter fingerprint.</summary>
    private sealed record Position(DateTimeOffset U, Guid I, string F);
}
