namespace Relay.Agent.Launch;

/// <summary>
/// Starts and stops interactive Claude Code sessions in tmux. One implementation serves <c>relay-agent launch</c>,
/// LocalAgent.Launch and the broker's LaunchRequest/StopRequest, so every launch is made the same way.
/// </summary>
internal interface ISessionLauncher
{
    /// <summary>
    /// Starts <c>claude</c> in a new detached tmux session with <see cref="LaunchSpec.ClaudeSessionId"/> as
    /// <c>--session-id</c>, <c>RELAY_LAUNCH_ID</c> in its environment, the development-channels flag, the workspace
    /// pre-trusted and the development-channels confirmation answered. Returns when Claude runs (or failed to start);
    /// failures are reported in the outcome, not thrown (cancellation excepted).
    /// </summary>
    Task<LaunchOutcome> LaunchAsync(LaunchSpec spec, CancellationToken cancellationToken);

    /// <summary>
    /// Stops a Claude process: gracefully (Claude is asked to exit, SessionEnd hooks run) up to
    /// <see cref="StopSpec.GracePeriod"/>, then killed; at once when <see cref="StopSpec.Force"/>.
    /// </summary>
    Task<StopOutcome> StopAsync(StopSpec spec, CancellationToken cancellationToken);
}

/// <summary>What to launch.</summary>
/// <param name="LaunchId">Becomes RELAY_LAUNCH_ID.</param>
/// <param name="ClaudeSessionId">Pre-assigned Claude session id (a UUID).</param>
/// <param name="WorkingDirectory">Absolute directory Claude runs in.</param>
/// <param name="Name">Session name, or null (used for the tmux session name when present).</param>
/// <param name="ClaudeArguments">Extra arguments for <c>claude</c>.</param>
internal sealed record LaunchSpec(string LaunchId, string ClaudeSessionId, string WorkingDirectory, string? Name, IReadOnlyList<string> ClaudeArguments);

/// <summary>How a launch went.</summary>
/// <param name="Started">True when Claude is running.</param>
/// <param name="Error">Why not, in words a person can act on; null on success.</param>
/// <param name="ClaudePid">The Claude process id; 0 when unknown or not started.</param>
/// <param name="TmuxTarget">The tmux target (<c>session:window</c>) Claude runs in; empty when not started.</param>
/// <param name="At">When Claude started or the attempt failed.</param>
internal sealed record LaunchOutcome(bool Started, string? Error, int ClaudePid, string TmuxTarget, DateTimeOffset At)
{
    /// <summary>
    /// True when Claude started but said it ignored the development-channels flag (its channels feature is off): the
    /// channel will attach, yet Claude drops what it pushes, so prompts must go through hooks.
    /// </summary>
    public bool ChannelsRefused { get; init; }
}

/// <summary>What to stop.</summary>
/// <param name="ClaudePid">The Claude process.</param>
/// <param name="TmuxTarget">Its tmux target when the agent launched it; null otherwise.</param>
/// <param name="Force">Kill at once.</param>
/// <param name="GracePeriod">How long a graceful stop may take before the process is killed.</param>
internal sealed record StopSpec(int ClaudePid, string? TmuxTarget, bool Force, TimeSpan GracePeriod);

/// <summary>How a stop went.</summary>
/// <param name="Stopped">True when the Claude process is gone.</param>
/// <param name="Error">Why not; null on success.</param>
/// <param name="At">When it finished.</param>
internal sealed record StopOutcome(bool Stopped, string? Error, DateTimeOffset At);
