using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>Reads a hook payload: validation, the indexed <see cref="HookFields"/>, and the stand-in for oversized payloads.</summary>
internal static class HookPayload
{
    /// <summary>A top-level field whose JSON is at most this long is kept in a stand-in.</summary>
    public const int SmallFieldChars = 1024;

    /// <summary>The stand-in's marker object (the list of fields left out and the original size).</summary>
    public const string StandInMarker = "relay_truncated";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The fields that identify an event; kept in a stand-in even when there is little room.</summary>
    private static readonly string[] KeyFields =
    [
        "session_id", "hook_event_name", "cwd", "transcript_path", "permission_mode", "prompt_id", "tool_name", "tool_use_id",
        "source", "reason", "notification_type", "agent_id", "agent_type", "trigger", "error", "model",
    ];

    /// <summary>Decodes a UTF-8 body; throws <see cref="HookPayloadException"/> for invalid UTF-8.</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> body)
    {
        try
        {
            return StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new HookPayloadException("The hook payload is not valid UTF-8.");
        }
    }

    /// <summary>
    /// Parses <paramref name="rawJson"/> as a hook input: a JSON object with string <c>session_id</c> and
    /// <c>hook_event_name</c> (<paramref name="fallbackEventName"/> when the payload has none, as with <c>/hooks/{event}</c>).
    /// </summary>
    /// <exception cref="HookPayloadException">Anything else, with a message saying what is wrong.</exception>
    public static (JsonObject Payload, string EventName, string SessionId) Parse(string rawJson, string? fallbackEventName = null)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(rawJson, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            throw new HookPayloadException("The hook payload is not valid JSON: " + ex.Message);
        }

        if (node is not JsonObject payload)
        {
            throw new HookPayloadException("The hook payload must be a JSON object (Claude Code's hook input), not " + Describe(node) + ".");
        }

        var sessionId = String(payload, "session_id");
        if (string.IsNullOrEmpty(sessionId))
        {
            throw new HookPayloadException("The hook payload has no \"session_id\" string; it must be Claude Code's hook input.");
        }

        var eventName = String(payload, "hook_event_name");
        if (string.IsNullOrEmpty(eventName))
        {
            eventName = fallbackEventName;
        }

        if (string.IsNullOrEmpty(eventName))
        {
            throw new HookPayloadException("The hook payload has no \"hook_event_name\" string; it must be Claude Code's hook input.");
        }

        if (eventName.Length > 128 || sessionId.Length > 256)
        {
            throw new HookPayloadException("The hook payload's \"session_id\" or \"hook_event_name\" is implausibly long.");
        }

        return (payload, eventName, sessionId);
    }

    /// <summary>The fields Relay indexes (timeline.proto HookFields); fields the event does not carry stay empty.</summary>
    public static HookFields Fields(JsonObject payload, string eventName)
    {
        var fields = new HookFields
        {
            ToolName = String(payload, "tool_name"),
            ToolUseId = String(payload, "tool_use_id"),
            TranscriptPath = String(payload, "transcript_path"),
            PermissionMode = String(payload, "permission_mode"),
            ClaudePromptId = String(payload, "prompt_id"),
            NotificationType = String(payload, "notification_type"),
            SubagentId = String(payload, "agent_id"),
            SubagentType = String(payload, "agent_type"),
        };

        // Generic names ("reason", "error", "trigger", "source", "model") mean what HookFields says only on their events.
        switch (eventName)
        {
            case "SessionStart":
                fields.StartSource = StartSource(String(payload, "source"));
                fields.Model = String(payload, "model");
                break;
            case "SessionEnd":
                fields.EndReason = String(payload, "reason");
                break;
            case "StopFailure":
                fields.StopError = String(payload, "error");
                break;
            case "PreCompact" or "PostCompact":
                fields.CompactTrigger = String(payload, "trigger");
                break;
        }

        return fields;
    }

    /// <summary>
    /// A valid JSON stand-in of at most <paramref name="limitBytes"/> UTF-8 bytes for a payload that is larger: the
    /// top-level fields that are small, plus <c>relay_truncated: {original_size, omitted}</c> naming the fields left out
    /// with their sizes.
    /// </summary>
    public static string StandIn(JsonObject payload, long originalBytes, int limitBytes)
    {
        var kept = new List<KeyValuePair<string, string>>();
        var omitted = new JsonObject();
        foreach (var (name, value) in payload)
        {
            var json = value?.ToJsonString() ?? "null";
            if (json.Length <= SmallFieldChars)
            {
                kept.Add(new(name, json));
            }
            else
            {
                omitted[name] = Encoding.UTF8.GetByteCount(json);
            }
        }

        var standIn = Build(kept, omitted, originalBytes);
        if (Encoding.UTF8.GetByteCount(standIn) <= limitBytes)
        {
            return standIn;
        }

        // Many small fields can still add up: keep the identifying ones only.
        foreach (var (name, json) in kept.Where(k => Array.IndexOf(KeyFields, k.Key) < 0))
        {
            omitted[name] = Encoding.UTF8.GetByteCount(json);
        }

        kept.RemoveAll(k => Array.IndexOf(KeyFields, k.Key) < 0);
        standIn = Build(kept, omitted, originalBytes);
        return Encoding.UTF8.GetByteCount(standIn) <= limitBytes ? standIn : Build(kept, new JsonObject(), originalBytes);
    }

    private static string Build(List<KeyValuePair<string, string>> kept, JsonObject omitted, long originalBytes)
    {
        var result = new JsonObject();
        foreach (var (name, json) in kept)
        {
            result[name] = JsonNode.Parse(json);
        }

        result[StandInMarker] = new JsonObject
        {
            ["original_size"] = originalBytes,
            ["omitted"] = omitted.DeepClone(),
        };
        return result.ToJsonString();
    }

    private static string String(JsonObject payload, string name) =>
        payload[name] is JsonValue value && value.TryGetValue(out string? text) ? text : string.Empty;

    private static SessionStartSource StartSource(string source) => source switch
    {
        "startup" => SessionStartSource.Startup,
        "resume" => SessionStartSource.Resume,
        "clear" => SessionStartSource.Clear,
        "compact" => SessionStartSource.Compact,
        "fork" => SessionStartSource.Fork,
        _ => SessionStartSource.Unspecified,
    };

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "an array",
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => "a " + value.GetValueKind().ToString().ToLowerInvariant(),
        },
        _ => node.GetValueKind().ToString(),
    };
}

/// <summary>A hook payload that is not Claude Code's hook input; the message says what is wrong.</summary>
internal sealed class HookPayloadException(string message) : Exception(message);
