namespace Relay.Channel.Lifetime;

// EventIds 300-319: start and stop.
internal static partial class LifetimeLog
{
    [LoggerMessage(EventId = 300, EventName = "ParentGone", Level = LogLevel.Information,
        Message = "Claude Code (pid {ClaudePid}) is gone (parent is now {ParentPid}); stopping")]
    public static partial void ParentGone(ILogger logger, int claudePid, int parentPid);

    [LoggerMessage(EventId = 301, EventName = "NoParentToWatch", Level = LogLevel.Debug,
        Message = "Parent pid is {ParentPid}; not watching for Claude Code's exit")]
    public static partial void NoParentToWatch(ILogger logger, int parentPid);

    [LoggerMessage(EventId = 302, EventName = "Starting", Level = LogLevel.Information,
        Message = "relay-channel {Version} starting for Claude session '{ClaudeSessionId}' (Claude pid {ClaudePid}, agent socket {SocketPath})")]
    public static partial void Starting(ILogger logger, string version, string claudeSessionId, int claudePid, string socketPath);
}
