namespace Relay.Broker.Persistence.Entities;

/// <summary>A permission request from Claude Code, pending until a person decides or it expires.</summary>
internal sealed class Approval
{
    public Guid Id { get; set; }

    public Guid RelaySessionId { get; set; }

    /// <summary>
    /// Claude Code's request id for channel requests (short, only unique within its session); for hook requests, which
    /// have none, the approval id.
    /// </summary>
    public required string RequestId { get; set; }

    /// <summary>Which mechanism raised it; the verdict goes back the same way.</summary>
    public ApprovalOrigin? Origin { get; set; }

    /// <summary>Full tool_input as raw JSON (hook requests only).</summary>
    public string? ToolInputJson { get; set; }

    public required string ToolName { get; set; }

    public string? Description { get; set; }

    /// <summary>A bounded preview of the tool input, as Claude Code sent it.</summary>
    public string? InputPreview { get; set; }

    public ApprovalStatus Status { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string? DecidedBy { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public string? Reason { get; set; }

    /// <summary>When the verdict went into the machine's outbox (AgentLink); null while pending or not yet routed.</summary>
    public DateTimeOffset? VerdictSentAt { get; set; }

    /// <summary>PostgreSQL's xmin: two people deciding at once cannot both win.</summary>
    public uint Version { get; set; }
}
