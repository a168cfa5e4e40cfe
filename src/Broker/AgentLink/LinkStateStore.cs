using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Sessions;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.AgentLink;

/// <summary>What the handshake settled: both resume positions and what the Welcome carries.</summary>
internal sealed record Handshake(
    string BrokerEpoch,
    long LastAgentSeq,
    long AgentPosition,
    long LastAssignedSeq,
    bool ReplacedLiveStream,
    IReadOnlyList<SessionBinding> Sessions,
    IReadOnlyList<Protocol.V1.Briefing> Briefings);

/// <summary>
/// The machine's row in agent_link_state: taking ownership of it at the handshake (fencing out any older stream, on
/// any replica), presence (lease, connected_at), and letting go at the end.
/// </summary>
internal sealed class LinkStateStore(
    IDbContextFactory<RelayDbContext> databases,
    NpgsqlDataSource dataSource,
    EventIngestWriter events,
    IOptions<AgentLinkOptions> options,
    TimeProvider time)
{
    private const string Upsert = """
        INSERT INTO agent_link_state (machine_id, last_inbound_seq, last_outbound_seq, last_outbound_seq_acked, updated_at, broker_epoch)
        VALUES ($1, 0, 0, 0, $2, '') ON CONFLICT (machine_id) DO NOTHING
        """;

    // agent_link_state rows first, in machine_id order, then machines rows: the group commit locks agent_link_state
    // rows in the same order (InboundProcessor.GroupCommit.cs), and every transaction that locks both takes
    // agent_link_state first. A plain UPDATE … FROM would lock in join order and could deadlock with a group commit.
    private const string Renew = """
        WITH locked AS (
            SELECT a.machine_id, l.stats
            FROM agent_link_state a
            JOIN unnest($1::uuid[], $2::uuid[], $3::text[]) AS l(machine_id, connection_id, stats)
              ON a.machine_id = l.machine_id AND a.connection_id = l.connection_id
            ORDER BY a.machine_id
            FOR UPDATE OF a),
        renewed AS (
            UPDATE agent_link_state a SET lease_expires_at = $4
            FROM locked WHERE a.machine_id = locked.machine_id
            RETURNING a.machine_id, locked.stats)
        UPDATE machines m SET last_seen_at = $5, agent_stats = COALESCE(r.stats::jsonb, m.agent_stats)
        FROM renewed r WHERE m.id = r.machine_id
        """;

    private const string Lock = """
        SELECT spool_epoch, last_inbound_seq, broker_epoch, last_outbound_seq, last_outbound_seq_acked, connection_id, lease_expires_at
        FROM agent_link_state WHERE machine_id = $1 FOR UPDATE
        """;

    /// <summary>Claims the machine for stream <paramref name="connectionId"/> and works out where both directions resume.</summary>
    public async Task<Handshake> ClaimAsync(MachineIdentity machine, Hello hello, Guid connectionId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (connection, tx) = Current(db, transaction);
        await LockEventOrderAsync(connection, tx, cancellationToken);
        await ExecuteAsync(connection, tx, Upsert, cancellationToken, machine.Id, now);

        string? spoolEpoch;
        long lastInbound, lastOutbound, acked;
        string brokerEpoch;
        Guid? previous;
        DateTimeOffset? leaseExpires;
        await using (var command = new NpgsqlCommand(Lock, connection, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machine.Id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            spoolEpoch = reader.IsDBNull(0) ? null : reader.GetString(0);
            lastInbound = reader.GetInt64(1);
            brokerEpoch = reader.GetString(2);
            lastOutbound = reader.GetInt64(3);
            acked = reader.GetInt64(4);
            previous = reader.IsDBNull(5) ? null : reader.GetGuid(5);
            leaseExpires = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6);
        }

        // A new spool epoch is a new sequence of agent seqs: nothing of it is committed yet. (Event ids still
        // deduplicate anything an agent resends across epochs.)
        if (spoolEpoch != hello.SpoolEpoch)
        {
            spoolEpoch = hello.SpoolEpoch;
            lastInbound = 0;
        }

        long agentPosition = 0;
        if (brokerEpoch.Length == 0)
        {
            brokerEpoch = NewEpoch();
        }
        else if (hello.BrokerEpoch == brokerEpoch)
        {
            agentPosition = (long)Math.Min(hello.LastBrokerSeq, long.MaxValue);
            if (agentPosition > lastOutbound)
            {
                // The agent has seen seqs this database never assigned (it was restored from a backup): start a new
                // epoch and renumber what is still queued, so no message hides below the agent's position.
                brokerEpoch = NewEpoch();
                agentPosition = 0;
                lastOutbound = 0;
                acked = 0;
                await ExecuteAsync(connection, tx, "UPDATE agent_outbox SET seq = NULL WHERE machine_id = $1 AND seq IS NOT NULL", cancellationToken, machine.Id);
            }
            else if (agentPosition > acked)
            {
                // The agent processed these before its last stream died, and its ack never arrived.
                await ExecuteAsync(connection, tx, "DELETE FROM agent_outbox WHERE machine_id = $1 AND seq IS NOT NULL AND seq <= $2", cancellationToken, machine.Id, agentPosition);
                acked = agentPosition;
            }
        }

        await ExecuteAsync(connection, tx, """
            UPDATE agent_link_state
            SET spool_epoch = $2, last_inbound_seq = $3, broker_epoch = $4, last_outbound_seq = $5, last_outbound_seq_acked = $6,
                connection_id = $7, lease_holder = $8, lease_expires_at = $9, updated_at = $10
            WHERE machine_id = $1
            """, cancellationToken,
            machine.Id, spoolEpoch, lastInbound, brokerEpoch, lastOutbound, acked, connectionId, options.Value.ReplicaName, now + options.Value.LeaseDuration, now);

        var row = await db.Machines.SingleAsync(m => m.Id == machine.Id, cancellationToken);
        row.Hostname = Clip(hello.Hostname, Limits.Name);
        row.Os = Clip(hello.Os, Limits.EnumText);
        row.AgentVersion = Clip(hello.AgentVersion, Limits.Name);
        row.ClaudeCodeVersion = Clip(hello.ClaudeCodeVersion, Limits.Name);
        row.ConnectedAt = now;
        row.LastSeenAt = now;
        await db.SaveChangesAsync(cancellationToken);

        var replaced = previous is not null && previous != connectionId && leaseExpires > now;
        var payload = JsonFormatterFor(MachineProto(row, online: true, options.Value.ReplicaName));
        var entries = new List<IngestEvent>
        {
            new(machine.Id, Queries.ClientIds.NameBased($"agentlink/connected/{connectionId:D}"), 0, EventKind.AgentConnected, now, payload),
        };
        if (replaced)
        {
            entries.Insert(0, new IngestEvent(machine.Id, Queries.ClientIds.NameBased($"agentlink/replaced/{previous:D}"), 0, EventKind.StreamReplaced, now, payload));
        }

        await events.WriteAsync(connection, tx, entries, [], cancellationToken);
        var bindings = await BindingsAsync(db, machine.Id, cancellationToken);
        var briefings = await BriefingsAsync(db, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        return new Handshake(brokerEpoch, lastInbound, agentPosition, lastOutbound, replaced, bindings, briefings);
    }

    /// <summary>Every standing briefing, as the Welcome and BriefingUpdate carry them.</summary>
    public async Task<IReadOnlyList<Protocol.V1.Briefing>> BriefingsAsync(CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await BriefingsAsync(db, cancellationToken);
    }

    private static async Task<IReadOnlyList<Protocol.V1.Briefing>> BriefingsAsync(RelayDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.Briefings.AsNoTracking().OrderBy(b => b.SessionName).ToListAsync(cancellationToken);
        var principals = await Audit.Principals.ResolveAsync(db, rows.Select(r => r.UpdatedBy), cancellationToken);
        return rows.Select(row => new Protocol.V1.Briefing
        {
            Name = row.SessionName,
            Text = row.Text,
            UpdatedAt = Timestamp.FromDateTimeOffset(row.UpdatedAt),
            UpdatedBy = principals[row.UpdatedBy],
        }).ToList();
    }

    /// <summary>Lets go of the machine, unless a newer stream owns it already: offline, and recorded.</summary>
    public async Task ReleaseAsync(MachineIdentity machine, Guid connectionId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (connection, tx) = Current(db, transaction);
        await LockEventOrderAsync(connection, tx, cancellationToken);
        var released = await ExecuteAsync(connection, tx, """
            UPDATE agent_link_state SET connection_id = NULL, lease_holder = NULL, lease_expires_at = NULL, updated_at = $3
            WHERE machine_id = $1 AND connection_id = $2
            """, cancellationToken, machine.Id, connectionId, now);
        if (released == 0)
        {
            return;
        }

        var row = await db.Machines.SingleAsync(m => m.Id == machine.Id, cancellationToken);
        row.ConnectedAt = null;
        row.LastSeenAt = now;
        await db.SaveChangesAsync(cancellationToken);
        var payload = MachineProto(row, online: false, replica: null);
        await events.WriteAsync(connection, tx,
            [new IngestEvent(machine.Id, Queries.ClientIds.NameBased($"agentlink/disconnected/{connectionId:D}"), 0, EventKind.AgentDisconnected, now, JsonFormatterFor(payload))],
            [], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Keeps the leases (presence) and last-seen times of this replica's streams fresh, in one statement. A stream that
    /// no longer owns its machine (a newer stream's handshake replaced the connection id) renews nothing.
    /// </summary>
    public async Task RenewAsync(IReadOnlyList<LeaseRenewal> streams, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(Renew);
        command.Parameters.AddRange(new NpgsqlParameter[]
        {
            new NpgsqlParameter<Guid[]> { TypedValue = streams.Select(s => s.MachineId).ToArray() },
            new NpgsqlParameter<Guid[]> { TypedValue = streams.Select(s => s.ConnectionId).ToArray() },
            new NpgsqlParameter<string?[]> { TypedValue = streams.Select(s => s.StatsJson).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text },
            new NpgsqlParameter<DateTimeOffset> { TypedValue = now + options.Value.LeaseDuration },
            new NpgsqlParameter<DateTimeOffset> { TypedValue = now },
        });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>At start-up: streams this replica held before it stopped (or crashed) are gone.</summary>
    public async Task ReleaseAllOfReplicaAsync(CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await db.Database.ExecuteSqlRawAsync("""
            UPDATE machines SET connected_at = NULL
            WHERE id IN (SELECT machine_id FROM agent_link_state WHERE lease_holder = {0});
            UPDATE agent_link_state SET connection_id = NULL, lease_holder = NULL, lease_expires_at = NULL WHERE lease_holder = {0};
            """, [options.Value.ReplicaName], cancellationToken);
    }

    /// <summary>Every non-ended session of the machine with its lineage: the Welcome's bindings.</summary>
    private static async Task<List<SessionBinding>> BindingsAsync(RelayDbContext db, Guid machineId, CancellationToken cancellationToken)
    {
        var sessions = await db.Sessions.AsNoTracking()
            .Where(s => s.MachineId == machineId && s.Status != SessionStatus.Ended)
            .ToListAsync(cancellationToken);
        var ids = sessions.Select(s => s.Id).ToList();
        var lineage = (await db.SessionSegments.AsNoTracking().Where(g => ids.Contains(g.RelaySessionId)).ToListAsync(cancellationToken))
            .GroupBy(g => g.RelaySessionId)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Ordinal).Select(s => s.ClaudeSessionId).ToList());
        return sessions.Select(s => SessionProtos.ToBinding(s, lineage.GetValueOrDefault(s.Id) ?? [])).ToList();
    }

    internal static Protocol.V1.Machine MachineProto(Persistence.Entities.Machine row, bool online, string? replica) => new()
    {
        MachineId = row.Id.ToString("D"),
        Name = row.Name,
        Hostname = row.Hostname ?? string.Empty,
        Os = row.Os ?? string.Empty,
        AgentVersion = row.AgentVersion ?? string.Empty,
        ClaudeCodeVersion = row.ClaudeCodeVersion ?? string.Empty,
        Online = online,
        ConnectedAt = online && row.ConnectedAt is { } c ? Timestamp.FromDateTimeOffset(c) : null,
        LastSeenAt = row.LastSeenAt is { } seen ? Timestamp.FromDateTimeOffset(seen) : null,
        EnrolledAt = Timestamp.FromDateTimeOffset(row.CreatedAt),
        BrokerReplica = replica ?? string.Empty,
    };

    private static string JsonFormatterFor(Google.Protobuf.IMessage message) => Google.Protobuf.JsonFormatter.Default.Format(message);

    private static string NewEpoch() => Guid.NewGuid().ToString("N");

    private static string? Clip(string value, int max) => value.Length == 0 ? null : value.Length <= max ? value : value[..max];

    private static (NpgsqlConnection, NpgsqlTransaction) Current(RelayDbContext db, IDbContextTransaction transaction) =>
        ((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());

    internal static async Task LockEventOrderAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        // First in every transaction that writes the event log (see TimelineWriter): a fixed lock order, no deadlocks.
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = EventIngestWriter.EventOrderLockKey });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
