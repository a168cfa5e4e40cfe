using Relay.Protocol.V1;

namespace Relay.Agent.Prompts;

internal static partial class PromptLog
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Debug, Message = "Prompt {PromptId} queued for session '{SessionId}' (launch '{LaunchId}').")]
    public static partial void Queued(ILogger logger, string promptId, string sessionId, string launchId);

    // Debug: one line per prompt, on the hot path; the broker records every delivery (path included) anyway.
    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Prompt {PromptId} delivered through the {Path} {HookEventName}.")]
    public static partial void Delivered(ILogger logger, string promptId, string path, string hookEventName);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Prompt {PromptId} {Status}: {Reason}")]
    public static partial void Failed(ILogger logger, string promptId, PromptStatus status, string reason);
}
