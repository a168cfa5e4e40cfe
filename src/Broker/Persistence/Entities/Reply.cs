using NpgsqlTypes;

namespace Relay.Broker.Persistence.Entities;

/// <summary>Something Claude said back through the channel's reply tool (or a Stop hook).</summary>
internal sealed class Reply
{
    /// <summary>Client-generated (by the channel), so a retransmitted reply is stored once.</summary>
    public Guid Id { get; set; }

    /// <summary>The prompt it answers, when Claude named one.</summary>
    public Guid? PromptId { get; set; }

    public Guid RelaySessionId { get; set; }

    public Guid? ClaudeSessionId { get; set; }

    public required string Text { get; set; }

    /// <summary>The reply tool, or inferred from a Stop hook; null when unknown.</summary>
    public ReplySource? Source { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Generated from <see cref="Text"/> for full-text search; never written by the application.</summary>
    public NpgsqlTsVector? SearchVector { get; set; }
}
