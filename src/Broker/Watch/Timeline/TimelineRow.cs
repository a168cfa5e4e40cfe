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
    string Payload);

/// <summary>A broker-originated entry to append to the event log.</summary>
/// <param name="MachineId">The machine it concerns.</param>
/// <param name="SessionId">The session it concerns, if any.</param>
/// <param name="Kind">The stored kind (<see cref="TimelineKinds"/>).</param>
/// <param name="EventId">Unique per machine: a deterministic id makes a repeated append a no-op.</param>
/// <param name="OccurredAt">When it happened.</param>
/// <param name="Payload">The protobuf JSON of its payload message.</param>
internal sealed record TimelineEntry(Guid MachineId, Guid? SessionId, string Kind, Guid EventId, DateTimeOffset OccurredAt, string Payload);
