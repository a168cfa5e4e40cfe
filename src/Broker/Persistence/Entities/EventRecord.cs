namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// Something an agent reported (hook event, channel attach/detach, reply, ...). <see cref="Id"/> orders all events and
/// is the watch cursor. Bulk ingest goes through <see cref="Ingest.EventIngestWriter"/>, not EF.
/// </summary>
internal sealed class EventRecord
{
    public long Id { get; set; }

    public Guid MachineId { get; set; }

    public Guid? RelaySessionId { get; set; }

    public Guid? ClaudeSessionId { get; set; }

    /// <summary>The agent's id for the event; unique per machine, so a retransmitted event is stored once.</summary>
    public Guid AgentEventId { get; set; }

    /// <summary>The agent→broker sequence number the event arrived with.</summary>
    public long AgentSeq { get; set; }

    public EventKind Kind { get; set; }

    /// <summary>Claude Code's hook_event_name (PreToolUse, Stop, ...) for hook events.</summary>
    public string? HookEventName { get; set; }

    public string? ToolName { get; set; }

    /// <summary>When it happened, by the agent's clock.</summary>
    public DateTimeOffset OccurredAt { get; set; }

    /// <summary>When the broker stored it; retention goes by this.</summary>
    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>The event as JSON (jsonb).</summary>
    public required string Payload { get; set; }
}
