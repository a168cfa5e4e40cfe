using Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Persistence.Ingest;

/// <summary>One event as an agent sent it, ready to store.</summary>
internal sealed record IngestEvent(
    Guid MachineId,
    Guid AgentEventId,
    long AgentSeq,
    EventKind Kind,
    DateTimeOffset OccurredAt,
    string Payload)
{
    public Guid? RelaySessionId { get; init; }

    public Guid? ClaudeSessionId { get; init; }

    public string? HookEventName { get; init; }

    public string? ToolName { get; init; }
}

/// <summary>An event the batch stored for the first time.</summary>
/// <param name="Index">Its position in the batch passed to the writer.</param>
/// <param name="MachineId">The machine that sent it.</param>
/// <param name="AgentEventId">The agent's id for it.</param>
/// <param name="EventId">Its <c>events.id</c> (the watch cursor).</param>
internal readonly record struct IngestedEvent(int Index, Guid MachineId, Guid AgentEventId, long EventId);

/// <summary>The highest agent→broker sequence number of a machine that the batch covers.</summary>
internal readonly record struct InboundPosition(Guid MachineId, long Seq);

/// <summary>What one insert of a batch stored: the events new to the log, and the received_at they were stored with.</summary>
internal sealed record StoredEvents(IReadOnlyList<IngestedEvent> Events, DateTimeOffset ReceivedAt);
