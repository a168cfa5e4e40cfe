using Relay.Protocol.V1;

namespace Relay.Agent.Approvals;

internal static partial class ApprovalLog
{
    [LoggerMessage(EventId = 4200, Level = LogLevel.Information, Message = "Permission request {ApprovalId} from the {Origin} for {ToolName}.")]
    public static partial void Requested(ILogger logger, string approvalId, string origin, string toolName);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug, Message = "The {Origin} asked for the same tool call as permission request {ApprovalId}; one verdict answers both.")]
    public static partial void Joined(ILogger logger, string approvalId, string origin);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "Permission request {ApprovalId}: {Decision}.")]
    public static partial void Decided(ILogger logger, string approvalId, ApprovalDecision decision);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Information, Message = "Permission request {ApprovalId} closed: {Reason}")]
    public static partial void Closed(ILogger logger, string approvalId, string reason);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Debug, Message = "A verdict for permission request {ApprovalId} came after the request closed; nothing waits for it.")]
    public static partial void UnknownVerdict(ILogger logger, string approvalId);
}
