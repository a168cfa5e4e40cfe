using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Watch.Timeline;

/// <summary>Machines as machine events show them (id, name, presence, times).</summary>
internal sealed class MachineReader(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    private const string Select = """
        SELECT m.id, m.name, m.created_at, m.last_seen_at, m.revoked_at,
               (m.connected_at IS NOT NULL AND EXISTS (SELECT 1 FROM agent_link_state l WHERE l.machine_id = m.id
                       AND l.lease_expires_at > $2)),
               (SELECT l.lease_holder FROM agent_link_state l WHERE l.machine_id = m.id AND l.lease_expires_at > $2),
               (SELECT count(*) FROM sessions s WHERE s.machine_id = m.id AND s.status <> 'ended')::int
        FROM machines m WHERE m.id = ANY($1)
        """;

    public async Task<Dictionary<Guid, Pb.Machine>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        var machines = new Dictionary<Guid, Pb.Machine>();
        if (ids.Count == 0)
        {
            return machines;
        }

        await using var command = dataSource.CreateCommand(Select);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.Distinct().ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow().ToUniversalTime() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetGuid(0);
            machines[id] = new Pb.Machine
            {
                MachineId = id.ToString("D"),
                Name = reader.GetString(1),
                EnrolledAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(2)),
                LastSeenAt = reader.IsDBNull(3) ? null : Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(3)),
                RevokedAt = reader.IsDBNull(4) ? null : Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(4)),
                Online = reader.GetBoolean(5),
                BrokerReplica = reader.IsDBNull(6) ? "" : reader.GetString(6),
                LiveSessions = (uint)reader.GetInt32(7),
            };
        }

        return machines;
    }
}
