namespace Relay.Broker.Delivery;

// EventIds 3150-3199: delivery (outbox, prompts, approvals, launches, stops).
internal static partial class DeliveryLog
{
    [LoggerMessage(EventId = 3150, EventName = "OutboxFilled", Level = LogLevel.Debug,
        Message = "Queued {Count} message(s) for machine {MachineId} (broker seqs up to {LastSeq})")]
    public static partial void OutboxFilled(ILogger logger, int count, Guid machineId, long lastSeq);

    [LoggerMessage(EventId = 3151, EventName = "ReplyNotLinked", Level = LogLevel.Information,
        Message = "Reply {ReplyId} names prompt {PromptId}, which is not a prompt of session {SessionId}; stored unlinked")]
    public static partial void ReplyNotLinked(ILogger logger, Guid replyId, Guid promptId, Guid sessionId);

    [LoggerMessage(EventId = 3152, EventName = "SessionMessageRefused", Level = LogLevel.Information,
        Message = "Message {MessageId} from session {SessionId} refused: {Reason}")]
    public static partial void SessionMessageRefused(ILogger logger, Guid messageId, Guid sessionId, string reason);

    [LoggerMessage(EventId = 3153, EventName = "LaunchExpired", Level = LogLevel.Information,
        Message = "Launch {LaunchId} expired before machine {MachineId} took it")]
    public static partial void LaunchExpired(ILogger logger, Guid launchId, Guid machineId);
}
