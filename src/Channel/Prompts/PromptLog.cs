using Relay.Protocol.V1;

namespace Relay.Channel.Prompts;

// EventIds 200-219: prompts and events pushed to Claude.
// Per-prompt lines are Debug: they sit on the prompt's hot path, and the broker records every delivery anyway.
internal static partial class PromptLog
{
    [LoggerMessage(EventId = 200, EventName = "PromptPushed", Level = LogLevel.Debug,
        Message = "Pushed prompt {PromptId} from {Sender} ({Length} characters) to Claude")]
    public static partial void Pushed(ILogger logger, string promptId, string sender, int length);

    [LoggerMessage(EventId = 201, EventName = "PromptDuplicate", Level = LogLevel.Information,
        Message = "Prompt {PromptId} was pushed before; acknowledged as a duplicate and not shown again")]
    public static partial void Duplicate(ILogger logger, string promptId);

    [LoggerMessage(EventId = 202, EventName = "PromptWithoutId", Level = LogLevel.Warning,
        Message = "Ignored a prompt without a prompt_id")]
    public static partial void PromptWithoutId(ILogger logger);

    [LoggerMessage(EventId = 203, EventName = "MetaKeyDropped", Level = LogLevel.Warning,
        Message = "Dropped channel meta key '{Key}': Claude Code accepts only letters, digits and underscores")]
    public static partial void MetaKeyDropped(ILogger logger, string key);

    [LoggerMessage(EventId = 204, EventName = "MessageStatusPushed", Level = LogLevel.Debug,
        Message = "Told Claude that message {MessageId} is {Status}")]
    public static partial void StatusPushed(ILogger logger, string messageId, PromptStatus status);
}
