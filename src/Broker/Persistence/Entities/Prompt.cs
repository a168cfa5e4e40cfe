using NpgsqlTypes;

namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// A prompt for a session, from a person or another session, with the lifecycle of DESIGN.md §6 and one timestamp per
/// status. <see cref="Id"/> is the broker's stable id (the channel's <c>prompt_id</c>); the client's idempotency key
/// is unique per sender, so a retry returns the same prompt and two senders can never collide.
/// </summary>
internal sealed class Prompt
{
    public Guid Id { get; set; }

    /// <summary>Client-generated; a repeated (sender, key) is the same prompt.</summary>
    public required string IdempotencyKey { get; set; }

    public Guid RelaySessionId { get; set; }

    public SenderKind SenderKind { get; set; }

    /// <summary>The sender: an API token id for a person, a Relay session id for a session.</summary>
    public required string SenderId { get; set; }

    /// <summary>How the sender is shown to Claude and to people ("alice", "reviewer on build-01").</summary>
    public string? SenderName { get; set; }

    public required string Text { get; set; }

    public PromptStatus Status { get; set; }

    public DeliveryPath? DeliveryPath { get; set; }

    /// <summary>When it was queued (created).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? SentAt { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public DateTimeOffset? SeenAt { get; set; }

    public DateTimeOffset? RepliedAt { get; set; }

    public DateTimeOffset? ExpiredAt { get; set; }

    public DateTimeOffset? FailedAt { get; set; }

    /// <summary>An undelivered prompt expires at this time.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    public string? FailureReason { get; set; }

    /// <summary>The Claude session id current when it was delivered.</summary>
    public Guid? DeliveredToClaudeSessionId { get; set; }

    /// <summary>How many times it was put on an agent stream (more than 1 after reconnects).</summary>
    public int DeliveryAttempts { get; set; }

    /// <summary>The prompt this one answers (session-to-session threads).</summary>
    public Guid? InReplyTo { get; set; }

    /// <summary>Generated from <see cref="Text"/> for full-text search; never written by the application.</summary>
    public NpgsqlTsVector? SearchVector { get; set; }

    /// <summary>PostgreSQL's xmin: concurrent status transitions fail instead of overwriting each other.</summary>
    public uint Version { get; set; }
}
