using Npgsql;

namespace Relay.Broker.Watch.Timeline;

/// <summary>
/// The statements of <see cref="TimelineWriter.LockHeadAndAppend"/> (the event-order lock, the log's head, one insert
/// per entry), for a writer that sends them in its last round trip, before COMMIT; and the reading of their results into
/// the rows its commit adds after that head, which it hands to the watch feed once the COMMIT returned
/// (Watch.CommittedEvents), so the feed does not read them back.
/// </summary>
internal sealed class TimelineAppend(List<NpgsqlBatchCommand> commands, IReadOnlyList<TimelineEntry> entries, DateTimeOffset receivedAt)
{
    /// <summary>The lock, the head, then one insert per entry, in that order.</summary>
    public IReadOnlyList<NpgsqlBatchCommand> Commands => commands;

    /// <summary>
    /// Reads the results of <see cref="Commands"/>: <paramref name="reader"/> is on the lock's result, and is left on
    /// the last insert's.
    /// </summary>
    public async Task<CommittedRows> ReadAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        await reader.NextResultAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("The event log's head came back without a row.");
        }

        var head = reader.GetInt64(0);
        var rows = new List<TimelineRow>(entries.Count);
        foreach (var entry in entries)
        {
            await reader.NextResultAsync(cancellationToken);
            // No row: an entry stored before under its id (ON CONFLICT DO NOTHING) adds nothing to the log.
            if (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(TimelineRow.Inserted(
                    reader.GetInt64(0), entry.MachineId, entry.SessionId, claudeSessionId: null, entry.EventId, entry.Kind,
                    entry.OccurredAt, receivedAt, entry.Payload));
            }
        }

        return new CommittedRows(head, rows);
    }
}

/// <summary>
/// The rows a writer's transaction added to the event log, in id order, and the head it read after taking the
/// event-order lock: once its COMMIT returned, for Watch.CommittedEvents.
/// </summary>
internal sealed record CommittedRows(long Head, IReadOnlyList<TimelineRow> Rows);
