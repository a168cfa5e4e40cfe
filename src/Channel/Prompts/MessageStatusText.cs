using Relay.Protocol.V1;

namespace Relay.Channel.Prompts;

/// <summary>The body of the channel event that reports what became of a message this session sent.</summary>
internal static class MessageStatusText
{
    public static string Describe(SessionMessageStatus status)
    {
        var target = string.IsNullOrEmpty(status.TargetSessionName)
            ? (string.IsNullOrEmpty(status.TargetSessionId) ? "the target session" : "session " + status.TargetSessionId)
            : "session " + status.TargetSessionName
              + (string.IsNullOrEmpty(status.TargetMachineName) ? "" : " on " + status.TargetMachineName);
        var text = status.Status switch
        {
            PromptStatus.Queued => $"Relay accepted your message {status.MessageId} to {target}; it is queued for delivery.",
            PromptStatus.Sent => $"Relay sent your message {status.MessageId} to {target}.",
            PromptStatus.Delivered => $"Your message {status.MessageId} reached {target}.",
            PromptStatus.Seen => $"{Capitalize(target)} has seen your message {status.MessageId}.",
            PromptStatus.Replied => $"{Capitalize(target)} replied to your message {status.MessageId}.",
            PromptStatus.Expired => $"Your message {status.MessageId} to {target} expired before it could be delivered.",
            PromptStatus.Failed => $"Your message {status.MessageId} to {target} was not delivered.",
            _ => $"Your message {status.MessageId} to {target} changed state.",
        };
        return string.IsNullOrEmpty(status.Reason) ? text : text + " Reason: " + status.Reason;
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
