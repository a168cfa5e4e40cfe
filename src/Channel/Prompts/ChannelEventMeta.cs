using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Channel.Prompts;

/// <summary>
/// Builds the <c>meta</c> of channel events. Claude Code turns each entry into an attribute of the
/// <c>&lt;channel&gt;</c> tag and silently drops keys that are not made of ASCII letters, digits and underscores, so
/// such keys are dropped here too (and logged), as are empty values.
/// </summary>
internal static class ChannelEventMeta
{
    /// <summary>The meta of a prompt: prompt_id, sender, sent_at, and for session messages the sending session.</summary>
    public static Dictionary<string, string> ForPrompt(PromptDelivery prompt)
    {
        var sender = prompt.Sender ?? new Principal();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["prompt_id"] = prompt.PromptId,
            ["sender"] = SenderName(sender),
            ["sender_kind"] = KindName(sender.Kind),
        };
        Add(meta, "sent_at", Format(prompt.SentAt));
        Add(meta, "in_reply_to", prompt.InReplyTo);
        if (prompt.IsSessionMessage || sender.Kind == PrincipalKind.Session)
        {
            Add(meta, "from_session", SenderName(sender));
            Add(meta, "from_session_id", sender.Id);
            Add(meta, "from_machine", sender.MachineName);
        }

        return meta;
    }

    /// <summary>The meta of a send_message outcome event.</summary>
    public static Dictionary<string, string> ForMessageStatus(SessionMessageStatus status)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kind"] = "message_status",
            ["message_id"] = status.MessageId,
            ["status"] = StatusName(status.Status),
        };
        Add(meta, "to_session", status.TargetSessionName);
        Add(meta, "to_session_id", status.TargetSessionId);
        Add(meta, "to_machine", status.TargetMachineName);
        return meta;
    }

    /// <summary>
    /// Keeps the entries Claude Code accepts: identifier keys with non-empty values. <paramref name="dropped"/> lists the
    /// keys that were removed.
    /// </summary>
    public static Dictionary<string, string> Sanitize(IReadOnlyDictionary<string, string> meta, out List<string> dropped)
    {
        dropped = [];
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in meta)
        {
            if (!IsIdentifier(key))
            {
                dropped.Add(key);
            }
            else if (!string.IsNullOrEmpty(value))
            {
                kept[key] = value;
            }
        }

        return kept;
    }

    /// <summary>True for a non-empty key of ASCII letters, digits and underscores only.</summary>
    public static bool IsIdentifier(string key) =>
        key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string SenderName(Principal sender) =>
        !string.IsNullOrWhiteSpace(sender.DisplayName) ? sender.DisplayName
        : !string.IsNullOrEmpty(sender.Id) ? sender.Id
        : "unknown";

    private static string KindName(PrincipalKind kind) => kind switch
    {
        PrincipalKind.User => "user",
        PrincipalKind.Session => "session",
        PrincipalKind.Machine => "machine",
        PrincipalKind.System => "system",
        _ => "unknown",
    };

    public static string StatusName(PromptStatus status) => status switch
    {
        PromptStatus.Queued => "queued",
        PromptStatus.Sent => "sent",
        PromptStatus.Delivered => "delivered",
        PromptStatus.Seen => "seen",
        PromptStatus.Replied => "replied",
        PromptStatus.Expired => "expired",
        PromptStatus.Failed => "failed",
        _ => "unknown",
    };

    private static string Format(Timestamp? at) =>
        at is null ? "" : at.ToDateTimeOffset().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static void Add(Dictionary<string, string> meta, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            meta[key] = value;
        }
    }
}
