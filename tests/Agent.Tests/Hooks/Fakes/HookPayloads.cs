using System.Text.Json.Nodes;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>Hook inputs shaped like Claude Code's (reference/claude-code.md §2.5–2.6).</summary>
internal static class HookPayloads
{
    public static JsonObject Common(string eventName, string? sessionId = null) => new()
    {
        ["session_id"] = sessionId ?? Guid.NewGuid().ToString(),
        ["transcript_path"] = "/home/dev/.claude/projects/x/s.jsonl",
        ["cwd"] = "/home/dev/project",
        ["permission_mode"] = "default",
        ["prompt_id"] = "c0ffee00-0000-4000-8000-000000000001",
        ["hook_event_name"] = eventName,
    };

    public static string PreToolUse(string? sessionId = null, string toolUseId = "toolu_01")
    {
        var payload = Common("PreToolUse", sessionId);
        payload["tool_name"] = "Bash";
        payload["tool_input"] = new JsonObject { ["command"] = "ls -la" };
        payload["tool_use_id"] = toolUseId;
        return payload.ToJsonString();
    }

    public static string SessionStart(string? sessionId = null)
    {
        var payload = Common("SessionStart", sessionId);
        payload.Remove("prompt_id");
        payload["source"] = "startup";
        payload["model"] = "claude-sonnet-4-5";
        return payload.ToJsonString();
    }

    public static string Of(string eventName, string? sessionId = null, Action<JsonObject>? extra = null)
    {
        var payload = Common(eventName, sessionId);
        extra?.Invoke(payload);
        return payload.ToJsonString();
    }
}
