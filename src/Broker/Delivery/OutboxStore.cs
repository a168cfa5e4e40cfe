using Npgsql;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;

namespace Relay.Broker.Delivery;

/// <summary>Reads a machine's numbered outbox rows for its stream, and drops the ones the agent acknowledged.</summary>
internal sealed class OutboxStore(NpgsqlDataSource dataSource)
{
    private const string Read = """
        SELECT seq, kind, ref_id, payload FROM agent_outbox
        WHERE machine_id = $1 AND seq IS NOT NULL AND seq > $2 AND seq <= $3
        ORDER BY seq
        """;

    // Prompt.delivery_attempts: the filler counts the first attempt when it numbers a prompt for a stream (which sends it
    // next); a stream that resends rows an earlier stream numbered counts them again here.
    private const string CountAttempts = "UPDATE prompts SET delivery_attempts = delivery_attempts + 1 WHERE id = ANY($1)";

    /// <summary>
    /// The numbered messages with <paramref name="after"/> &lt; seq ≤ <paramref name="upTo"/>, in order, ready to send;
    /// the prompts among those with seq ≤ <paramref name="resentThrough"/> (numbered for an earlier stream) count one
    /// more delivery attempt.
    /// </summary>
    public async Task<List<BrokerMessage>> ReadAsync(Guid machineId, long after, long upTo, long resentThrough, CancellationToken cancellationToken)
    {
        var messages = new List<BrokerMessage>();
        var prompts = new List<Guid>();
        await using (var command = dataSource.CreateCommand(Read))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = machineId });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = upTo });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var message = BrokerMessage.Parser.ParseFrom(reader.GetFieldValue<byte[]>(3));
                message.Seq = (ulong)reader.GetInt64(0);
                messages.Add(message);
                if ((long)message.Seq > resentThrough)
                {
                    continue;
                }

                if (reader.GetString(1) == "prompt" && !reader.IsDBNull(2))
                {
                    prompts.Add(reader.GetGuid(2));
                }

                // Launch requests carry their first prompt too.
                if (message.LaunchRequest?.InitialPrompt is { } initial && Guid.TryParse(initial.PromptId, out var initialId))
                {
                    prompts.Add(initialId);
                }
            }
        }

        if (prompts.Count > 0)
        {
            await using var count = dataSource.CreateCommand(CountAttempts);
            count.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = prompts.ToArray() });
            await count.ExecuteNonQueryAsync(cancellationToken);
        }

        return messages;
    }

    /// <summary>
    /// The commands that drop acknowledged rows and record the position, for the inbound batch's last round trip (their
    /// results are not needed, so they need no round trip of their own under the event-order lock).
    /// </summary>
    public static NpgsqlBatchCommand[] AcknowledgeCommands(Guid machineId, long ackedSeq, DateTimeOffset now) =>
    [
        new("DELETE FROM agent_outbox WHERE machine_id = $1 AND seq IS NOT NULL AND seq <= $2")
        {
            Parameters = { new NpgsqlParameter<Guid> { TypedValue = machineId }, new NpgsqlParameter<long> { TypedValue = ackedSeq } },
        },
        new("""
            UPDATE agent_link_state SET last_outbound_seq_acked = GREATEST(last_outbound_seq_acked, $2), updated_at = $3
            WHERE machine_id = $1
            """)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid> { TypedValue = machineId },
                new NpgsqlParameter<long> { TypedValue = ackedSeq },
                new NpgsqlParameter<DateTimeOffset> { TypedValue = now },
            },
        },
    ];

    /// <summary>Appends an unnumbered row to <paramref name="machineId"/>'s outbox; that machine's stream numbers and sends it.</summary>
    public static OutboxMessage Append(Persistence.RelayDbContext db, Guid machineId, OutboxKind kind, Guid? refId, BrokerMessage message, DateTimeOffset now)
    {
        var row = new OutboxMessage { MachineId = machineId, Kind = kind, RefId = refId, Payload = Google.Protobuf.MessageExtensions.ToByteArray(message), CreatedAt = now };
        db.Outbox.Add(row);
        return row;
    }
}
