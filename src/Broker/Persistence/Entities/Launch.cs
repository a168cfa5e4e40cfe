namespace Relay.Broker.Persistence.Entities;

/// <summary>A request to start a Claude Code session on a machine, and its outcome.</summary>
internal sealed class Launch
{
    /// <summary>The launch id, also RELAY_LAUNCH_ID in the launched session's environment.</summary>
    public Guid Id { get; set; }

    public Guid MachineId { get; set; }

    public required string Cwd { get; set; }

    public string? Name { get; set; }

    /// <summary>The initial prompt, if any.</summary>
    public string? Prompt { get; set; }

    public LaunchStatus Status { get; set; }

    /// <summary>What the agent reported (tmux session, error text).</summary>
    public string? Result { get; set; }

    public required string RequestedBy { get; set; }

    /// <summary>The session it became, once known.</summary>
    public Guid? RelaySessionId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? SentAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>Not started after this time: the launch fails instead; null = no limit.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Extra arguments for <c>claude</c>.</summary>
    public List<string> ClaudeArgs { get; set; } = [];

    /// <summary>The prompt created for <see cref="Prompt"/>; it travels inside the LaunchRequest.</summary>
    public Guid? InitialPromptId { get; set; }

    /// <summary>The Claude session id the launcher pre-assigned.</summary>
    public Guid? ClaudeSessionId { get; set; }

    public int? ClaudePid { get; set; }

    public string? TmuxTarget { get; set; }

    /// <summary>True for <c>relay-agent launch</c> on the machine (no request from the broker).</summary>
    public bool Local { get; set; }
}
