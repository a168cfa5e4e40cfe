namespace Relay.Broker.Persistence.Entities;

/// <summary>A permission request from Claude Code, pending until a person decides or it expires.</summary>
internal sealed class Approval
{
    public Guid Id { get; set; }

    public Guid RelaySessionId { get; set; }

    /// <summary>Claude Code's request id (short, only unique within its session).</summary>
    public required string RequestId { get; set; }

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

    /// <summary>PostgreSQL's xmin: two people deciding at once cannot both win.</summary>
    public uint Version { get; set; }
}
