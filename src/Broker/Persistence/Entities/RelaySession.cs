namespace Relay.Broker.Persistence.Entities;

/// <summary>
/// The logical session a person sees (DESIGN.md §5): stable across /clear, --resume, compaction and restarts. Its
/// Claude session ids are its <see cref="SessionSegment"/>s.
/// </summary>
internal sealed class RelaySession
{
    public Guid Id { get; set; }

    public Guid MachineId { get; set; }

    /// <summary>A role-like name (<c>reviewer</c>) that briefings and addressing use; not unique.</summary>
    public string? Name { get; set; }

    public required string Cwd { get; set; }

    public string? ProjectDir { get; set; }

    /// <summary>Set when Relay launched it (RELAY_LAUNCH_ID); one launch is one session.</summary>
    public Guid? LaunchId { get; set; }

    /// <summary>The Claude Code process; one process is one Relay session.</summary>
    public int? ClaudePid { get; set; }

    public SessionStatus Status { get; set; }

    public bool ChannelAttached { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>Why it ended (SessionEnd reason, "not in the agent's snapshot", ...).</summary>
    public string? EndReason { get; set; }
}
