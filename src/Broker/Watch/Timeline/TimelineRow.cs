namespace Relay.Broker.Watch.Timeline;

/// <summary>One row of the events table as history and watch read it.</summary>
internal sealed record TimelineRow(
    long Id,
    Guid MachineId,
    Guid? SessionId,
    Guid? ClaudeSessionId,
    Guid EventId,
    string Kind,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt,
    string Payload)
{
    /// <summary>
    /// A row as a writer inserted it, as the log would return it: its times at PostgreSQL's precision (microseconds,
    /// truncated as Npgsql sends them), its payload as the writer sent it (the stored jsonb text may differ in layout,
    /// which the mapper's JSON parser does not see).
    /// </summary>
    public static TimelineRow Inserted(
        long id, Guid machineId, Guid? sessionId, Guid? claudeSessionId, Guid eventId, string kind,
        DateTimeOffset occurredAt, DateTimeOffset receivedAt, string payload) =>
        new(id, machineId, sessionId, claudeSessionId, eventId, kind, Stored(occurredAt), Stored(receivedAt), payload);

    /// <summary>A time as timestamptz keeps it: UTC, whole microseconds; the extremes stand for the infinities.</summary>
    public static DateTimeOffset Stored(DateTimeOffset time)
    {
        if (time == DateTimeOffset.MinValue || time == DateTimeOffset.MaxValue)
        {
            return time;
        }

        return Access.StoredTime.ForStorage(time).ToUniversalTime();
    }
}

/// <summary>A broker-originated entry to append to the event log.</summary>
/// <param name="MachineId">The machine it concerns.</param>
/// <param name="SessionId">The session it concerns, if any.</param>
/// <param name="Kind">The stored kind (<see cref="TimelineKinds"/>).</param>
/// <param name="EventId">Unique per machine: a deterministic id makes a repeated append a no-op.</param>
/// <param name="OccurredAt">When it happened.</param>
/// <param name="Payload">The protobuf JSON of its payload message.</param>
internal sealed record TimelineEntry(Guid MachineId, Guid? SessionId, string Kind, Guid EventId, DateTimeOffset OccurredAt, string Payload);
