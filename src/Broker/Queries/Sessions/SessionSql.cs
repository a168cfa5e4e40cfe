using Npgsql;
using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Queries.Sessions;

/// <summary>
/// The one SELECT every session read shares. Presence as AgentLink records it: a machine is online while it has a
/// stream (machines.connected_at) whose lease (agent_link_state) has not expired; a crashed replica cannot clear the
/// former, the lease runs out on its own.
/// </summary>
internal static class SessionSql
{
    /// <summary>The select list and FROM clause; <c>{now}</c> is replaced by the placeholder of the current time.</summary>
    private const string SelectTemplate = """
        SELECT s.id, s.name, s.machine_id, m.name, s.status, s.channel_attached, s.cwd, s.project_dir, s.launch_id,
               s.claude_pid, s.created_at, coalesce(s.last_activity_at, s.updated_at), s.ended_at, s.end_reason,
               (SELECT g.claude_session_id FROM session_segments g WHERE g.relay_session_id = s.id
                ORDER BY g.ordinal DESC LIMIT 1),
               (m.connected_at IS NOT NULL AND EXISTS (SELECT 1 FROM agent_link_state l WHERE l.machine_id = s.machine_id
                       AND l.lease_expires_at > {now})),
               (SELECT count(*) FROM prompts p WHERE p.relay_session_id = s.id AND p.status IN ('queued', 'sent'))::int,
               (SELECT count(*) FROM approvals a WHERE a.relay_session_id = s.id AND a.status = 'pending')::int,
               s.permission_mode, s.model, s.tmux_target
        FROM sessions s JOIN machines m ON m.id = s.machine_id
        """;

    /// <summary>The sort key of "most recently active first".</summary>
    public const string LastActivity = "coalesce(s.last_activity_at, s.updated_at)";

    /// <summary>Starts a statement with the shared select; the caller appends WHERE / ORDER BY.</summary>
    public static SqlBuilder Select(DateTimeOffset now)
    {
        var builder = new SqlBuilder("");
        var placeholder = builder.Param(now);
        return builder.Append(SelectTemplate.Replace("{now}", placeholder, StringComparison.Ordinal));
    }

    public static async Task<List<SessionRow>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadAllAsync(reader, cancellationToken);
    }

    /// <summary>The rows of <paramref name="reader"/>'s current result (a statement of a batch).</summary>
    public static async Task<List<SessionRow>> ReadAllAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var rows = new List<SessionRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(Read(reader));
        }

        return rows;
    }

    private static SessionRow Read(NpgsqlDataReader r) => new(
        r.GetGuid(0),
        r.IsDBNull(1) ? null : r.GetString(1),
        r.GetGuid(2),
        r.GetString(3),
        EnumText<SessionStatus>.Parse(r.GetString(4)),
        r.GetBoolean(5),
        r.GetString(6),
        r.IsDBNull(7) ? null : r.GetString(7),
        r.IsDBNull(8) ? null : r.GetGuid(8),
        r.IsDBNull(9) ? null : r.GetInt32(9),
        r.GetFieldValue<DateTimeOffset>(10),
        r.GetFieldValue<DateTimeOffset>(11),
        r.IsDBNull(12) ? null : r.GetFieldValue<DateTimeOffset>(12),
        r.IsDBNull(13) ? null : r.GetString(13),
        r.IsDBNull(14) ? null : r.GetGuid(14),
        r.GetBoolean(15),
        r.GetInt32(16),
        r.GetInt32(17),
        r.IsDBNull(18) ? null : r.GetString(18),
        r.IsDBNull(19) ? null : r.GetString(19),
        r.IsDBNull(20) ? null : r.GetString(20));
}
