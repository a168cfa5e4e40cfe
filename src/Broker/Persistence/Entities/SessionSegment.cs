namespace Relay.Broker.Persistence.Entities;

/// <summary>One Claude session id in a Relay session's lineage.</summary>
internal sealed class SessionSegment
{
    /// <summary>The UUID Claude Code uses; belongs to exactly one Relay session.</summary>
    public Guid ClaudeSessionId { get; set; }

    public Guid RelaySessionId { get; set; }

    public SegmentSource Source { get; set; }

    /// <summary>Position in the lineage, from 0.</summary>
    public int Ordinal { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    /// <summary>The transcript file on the machine, from the hooks.</summary>
    public string? TranscriptPath { get; set; }
}
