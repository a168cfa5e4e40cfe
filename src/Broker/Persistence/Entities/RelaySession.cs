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

    /// <summary>Start time of the Claude process, so a reused pid is never taken for the same process.</summary>
    public DateTimeOffset? ClaudeStartedAt { get; set; }

    public SessionStatus Status { get; set; }

    public bool ChannelAttached { get; set; }

    /// <summary>The agent's id of the attached relay-channel stream; a late detach of an older channel leaves a newer one attached.</summary>
    public string? ChannelId { get; set; }

    /// <summary>Last permission mode a hook reported.</summary>
    public string? PermissionMode { get; set; }

    /// <summary>Model from the last SessionStart hook.</summary>
    public string? Model { get; set; }

    /// <summary>tmux target (session:window) when the agent launched it.</summary>
    public string? TmuxTarget { get; set; }

    /// <summary>Last hook, channel event, reply or approval.</summary>
    public DateTimeOffset? LastActivityAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>
    /// Why it ended: the snake_case name of <c>relay.v1.SessionEndReason</c> (<c>exited</c>, <c>process_gone</c>,
    /// <c>not_in_snapshot</c>, <c>stopped</c>, <c>machine_revoked</c>), or <c>launch_failed</c>.
    /// </summary>
    public string? EndReason { get; set; }
}
