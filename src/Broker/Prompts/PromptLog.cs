namespace Relay.Broker.Prompts;

/// <summary>Logs of Admin prompts (event ids 3000–3099).</summary>
internal static partial class PromptLog
{
    [LoggerMessage(EventId = 3000, EventName = "PromptQueued", Level = LogLevel.Information, Message = "Prompt {PromptId} queued for session {SessionId} by {Sender}")]
    public static partial void Queued(ILogger logger, Guid promptId, Guid sessionId, string sender);

    [LoggerMessage(EventId = 3001, EventName = "PromptsExpired", Level = LogLevel.Information, Message = "{Count} undelivered prompts expired")]
    public static partial void Expired(ILogger logger, int count);

    [LoggerMessage(EventId = 3002, EventName = "ExpirySweepFailed", Level = LogLevel.Warning, Message = "Prompt expiry sweep failed; retrying in {RetryIn}")]
    public static partial void ExpirySweepFailed(ILogger logger, Exception exception, TimeSpan retryIn);
}
