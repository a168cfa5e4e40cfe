using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Agent.Sessions;

/// <summary>An immutable copy of one tracked Claude process (one Relay session), taken under the tracker's lock.</summary>
/// <param name="Id">The tracker's own key; stable for the life of the process.</param>
/// <param name="Pid">The Claude process id; 0 while only http hooks have been seen.</param>
/// <param name="StartedAt">When the process started (/proc), when known.</param>
/// <param name="ChannelCapable">True when Claude was started with Relay's channel (its command line names <c>server:relay</c>).</param>
/// <param name="Lineage">Every Claude session id this process has used, oldest first.</param>
/// <param name="ClaudeSessionId">The current Claude session id.</param>
/// <param name="RelaySessionId">The Relay session id from the broker's binding; empty until bound.</param>
/// <param name="Name">The session name, when known.</param>
/// <param name="LaunchId">RELAY_LAUNCH_ID, when Relay launched it.</param>
/// <param name="Cwd">The last known working directory.</param>
/// <param name="ProjectDir">CLAUDE_PROJECT_DIR, when known.</param>
/// <param name="TmuxTarget">The tmux target when the agent launched it.</param>
/// <param name="ChannelId">The attached channel's id; null when none is attached.</param>
/// <param name="FirstSeen">When the agent first saw it.</param>
/// <param name="LastActivity">The last hook or channel activity.</param>
/// <param name="LaunchPending">True while the launcher is still starting it (not in snapshots yet).</param>
internal sealed record SessionView(
    long Id,
    int Pid,
    DateTimeOffset? StartedAt,
    bool ChannelCapable,
    IReadOnlyList<string> Lineage,
    string ClaudeSessionId,
    string RelaySessionId,
    string Name,
    string LaunchId,
    string Cwd,
    string ProjectDir,
    string TmuxTarget,
    string? ChannelId,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastActivity,
    bool LaunchPending)
{
    /// <summary>The evidence that names this session to the broker.</summary>
    public SessionEvidence Evidence(string? claudeSessionId = null) => new()
    {
        ClaudeSessionId = claudeSessionId ?? ClaudeSessionId,
        SessionId = RelaySessionId,
        LaunchId = LaunchId,
        ClaudePid = Pid,
        ClaudeStartedAt = StartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
        Cwd = Cwd,
        ProjectDir = ProjectDir,
    };

    /// <summary>True when a prompt or request addressed by these ids is for this session.</summary>
    public bool IsAddressedBy(string relaySessionId, string claudeSessionId, string launchId) =>
        (launchId.Length > 0 && launchId == LaunchId)
        || (relaySessionId.Length > 0 && relaySessionId == RelaySessionId)
        || (claudeSessionId.Length > 0 && Lineage.Contains(claudeSessionId));

    /// <summary>The LiveSession of a snapshot or a status answer.</summary>
    public LiveSession ToLiveSession(uint queuedPrompts) => new()
    {
        Session = Evidence(),
        ClaudeSessionIds = { Lineage },
        Name = Name,
        ChannelAttached = ChannelId is not null,
        TmuxTarget = TmuxTarget,
        QueuedPrompts = queuedPrompts,
        LastActivityAt = Timestamp.FromDateTimeOffset(LastActivity),
    };
}
