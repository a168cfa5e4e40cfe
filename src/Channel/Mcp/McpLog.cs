using Relay.Protocol.V1;

namespace Relay.Channel.Mcp;

// EventIds 100-129: the MCP side (Claude Code).
internal static partial class McpLog
{
    [LoggerMessage(EventId = 100, EventName = "McpInitialized", Level = LogLevel.Information,
        Message = "MCP handshake done with {ClientName} {ClientVersion} (protocol {ProtocolVersion})")]
    public static partial void Initialized(ILogger logger, string clientName, string clientVersion, string protocolVersion);

    [LoggerMessage(EventId = 101, EventName = "PermissionRequested", Level = LogLevel.Information,
        Message = "Claude Code asks for permission {RequestId} ({ToolName}); relaying it (agent attached: {Attached})")]
    public static partial void PermissionRequested(ILogger logger, string requestId, string toolName, bool attached);

    [LoggerMessage(EventId = 102, EventName = "PermissionRequestWithoutId", Level = LogLevel.Warning,
        Message = "Ignored a permission_request without a request_id")]
    public static partial void PermissionRequestWithoutId(ILogger logger);

    [LoggerMessage(EventId = 103, EventName = "VerdictSent", Level = LogLevel.Information,
        Message = "Passed verdict {Behavior} for permission {RequestId} to Claude Code")]
    public static partial void VerdictSent(ILogger logger, string requestId, string behavior);

    [LoggerMessage(EventId = 104, EventName = "VerdictUnusable", Level = LogLevel.Warning,
        Message = "Ignored verdict for approval {ApprovalId}: Claude request id '{RequestId}', decision {Decision}")]
    public static partial void VerdictUnusable(ILogger logger, string approvalId, string requestId, ApprovalDecision decision);

    [LoggerMessage(EventId = 110, EventName = "ToolFailed", Level = LogLevel.Information,
        Message = "Tool {Tool} answered Claude with an error: {Message}")]
    public static partial void ToolFailed(ILogger logger, string tool, string message);

    // Debug: one line per reply, on the hot path (the broker stores every reply).
    [LoggerMessage(EventId = 111, EventName = "ReplyAccepted", Level = LogLevel.Debug,
        Message = "Reply {ReplyId} (to prompt '{PromptId}') is in the agent's spool (duplicate: {Duplicate})")]
    public static partial void ReplyAccepted(ILogger logger, string replyId, string promptId, bool duplicate);

    [LoggerMessage(EventId = 112, EventName = "ReplyKept", Level = LogLevel.Warning,
        Message = "Reply {ReplyId} not confirmed by the agent within {Timeout}; it is kept and re-sent after the next attach")]
    public static partial void ReplyKept(ILogger logger, string replyId, TimeSpan timeout);
}
