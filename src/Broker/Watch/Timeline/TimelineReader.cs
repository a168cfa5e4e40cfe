using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Queries;

namespace Relay.Broker.Watch.Timeline;

/// <summary>Reads the event log by position. Plain Npgsql: history pages and watch replays are its hot paths.</summary>
internal sealed class TimelineReader(NpgsqlDataSource dataSource, IOptions<DatabaseOptions> databaseOptions)
{
    private const string Columns =
        "SELECT id, machine_id, relay_session_id, claude_session_id, agent_event_id, kind, occurred_at, received_at, payload::text FROM events";

    /// <summary>
    /// The log's head: the highest position committed. Because ids become visible in order, every row at or below it is
    /// visible to any later statement.
    /// </summary>
    public async Task<long> HeadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(max(id), 0) FROM events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The position just before the first row recorded at or after <paramref name="since"/>; the head if none.</summary>
    public async Task<long> PositionBeforeAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT coalesce((SELECT min(id) - 1 FROM events WHERE received_at >= $1), (SELECT coalesce(max(id), 0) FROM events))");
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = since.ToUniversalTime() });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// OUT_OF_RANGE unless reading after <paramref name="position"/> returns everything that came after it: the rows
    /// after it must not have been pruned by retention, and it must not be ahead of the log (a cursor of another database).
    /// </summary>
    public async Task EnsureResumableAsync(long position, string field, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM events");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (oldest, head) = (reader.GetInt64(0), reader.GetInt64(1));

        if (position > head)
        {
            throw AdminErrors.OutOfRange($"{field} {EventCursor.Format(position)} is ahead of the event log (head {EventCursor.Format(head)}); it was not issued by this broker's database. Read the history again and watch from its head_cursor.");
        }

        // Cursors handed out are positions of rows that existed (or the one before such a row), so a cursor below the
        // oldest surviving row means rows after it were pruned. Without retention nothing is pruned.
        if (databaseOptions.Value.EventRetention is { } retention && position > 0 && oldest > 0 && position < oldest - 1)
        {
            throw AdminErrors.OutOfRange($"{field} {EventCursor.Format(position)} is older than the retained event log (events are kept {RequestValidation.Describe(retention)}; oldest retained {EventCursor.Format(oldest)}). Read the history again and watch from its head_cursor.");
        }
    }

    /// <summary>
    /// Rows matching <paramref name="filter"/> with <paramref name="after"/> &lt; id &lt;= <paramref name="upTo"/>, in id
    /// order (or reverse), at most <paramref name="limit"/>.
    /// </summary>
    public async Task<List<TimelineRow>> ReadAsync(
        TimelineFilter filter, long after, long upTo, int limit, bool newestFirst, CancellationToken cancellationToken)
    {
        var sql = new SqlBuilder(Columns);
        sql.Append($" WHERE id > {sql.Param(after)} AND id <= {sql.Param(upTo)}");
        sql.Append($" AND kind = ANY({sql.Param(filter.StoredKinds)})");
        if (filter.SessionId is { } session)
        {
            sql.Append($" AND relay_session_id = {sql.Param(session)}");
        }

        if (filter.MachineIds is { Length: > 0 } machines)
        {
            sql.Append($" AND machine_id = ANY({sql.Param(machines)})");
        }

        sql.Append(newestFirst ? " ORDER BY id DESC" : " ORDER BY id").Append($" LIMIT {sql.Param(limit)}");
        await using var command = sql.CreateCommand(dataSource);
        return await ReadRowsAsync(command, cancellationToken);
    }

    /// <summary>Every row after <paramref name="after"/>, whatever its kind, at most <paramref name="limit"/> (the live feed).</summary>
    public async Task<List<TimelineRow>> ReadAllAfterAsync(long after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Columns + " WHERE id > $1 ORDER BY id LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        return await ReadRowsAsync(command, cancellationToken);
    }

    private static async Task<List<TimelineRow>> ReadRowsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<TimelineRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new TimelineRow(
                reader.GetInt64(0),
                reader.GetGuid(1),
                reader.IsDBNull(2) ? null : reader.GetGuid(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3),
                reader.GetGuid(4),
                reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6),
                reader.GetFieldValue<DateTimeOffset>(7),
                reader.GetString(8)));
        }

        return rows;
    }
}
