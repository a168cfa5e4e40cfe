using Relay.Protocol.V1;

namespace Relay.Channel.Agent;

// EventIds 1-29: the Attach stream to relay-agent.
internal static partial class AgentLog
{
    [LoggerMessage(EventId = 1, EventName = "Attached", Level = LogLevel.Information,
        Message = "Attached to relay-agent as channel {ChannelId} (session '{SessionId}', name '{Name}', re-attach: {Reattach})")]
    public static partial void Attached(ILogger logger, string channelId, string sessionId, string name, bool reattach);

    [LoggerMessage(EventId = 2, EventName = "Detached", Level = LogLevel.Warning,
        Message = "Lost the relay-agent stream ({Reason}); reconnecting")]
    public static partial void Detached(ILogger logger, string reason);

    [LoggerMessage(EventId = 3, EventName = "AgentAway", Level = LogLevel.Warning,
        Message = "relay-agent is not reachable at {SocketPath} ({Reason}); retrying with backoff. Is relay-agent running (relay-agent status)?")]
    public static partial void AgentAway(ILogger logger, string socketPath, string reason);

    [LoggerMessage(EventId = 4, EventName = "AttachFailed", Level = LogLevel.Debug,
        Message = "Attach attempt failed: {Reason}")]
    public static partial void AttachFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5, EventName = "Replaced", Level = LogLevel.Warning,
        Message = "Another relay-channel attached for this Claude process and replaced this one; not reconnecting")]
    public static partial void Replaced(ILogger logger);

    [LoggerMessage(EventId = 6, EventName = "Resent", Level = LogLevel.Information,
        Message = "Re-sent {Replies} unconfirmed replies and {ToolCalls} unanswered tool calls after attaching")]
    public static partial void Resent(ILogger logger, int replies, int toolCalls);

    [LoggerMessage(EventId = 7, EventName = "AttachmentUpdated", Level = LogLevel.Information,
        Message = "Session is now '{SessionId}' named '{Name}' (broker connected: {BrokerConnected})")]
    public static partial void AttachmentUpdated(ILogger logger, string sessionId, string name, bool brokerConnected);

    [LoggerMessage(EventId = 8, EventName = "Notice", Level = LogLevel.Warning,
        Message = "relay-agent notice {Code}: {Message} (closing: {Closing})")]
    public static partial void Notice(ILogger logger, ErrorCode code, string message, bool closing);

    [LoggerMessage(EventId = 9, EventName = "RequestRefused", Level = LogLevel.Warning,
        Message = "relay-agent refused {RequestId}: {Code} {Message}")]
    public static partial void RequestRefused(ILogger logger, string requestId, ErrorCode code, string message);

    [LoggerMessage(EventId = 10, EventName = "UnknownMessage", Level = LogLevel.Debug,
        Message = "Ignored a message from relay-agent of unknown kind {Kind}")]
    public static partial void UnknownMessage(ILogger logger, AgentToChannelMessage.BodyOneofCase kind);
}
