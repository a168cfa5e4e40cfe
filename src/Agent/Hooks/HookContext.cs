using System.Text.Json.Nodes;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// One hook invocation as the agent received it, from Claude Code's http hook POST or from the command-hook client
/// (<c>relay-agent hook</c>, via LocalAgent.Hook). Built by the hook endpoints; handed to the session tracker and the
/// hook responder.
/// </summary>
/// <param name="EventId">The event id (the hook client's for command hooks; agent-generated for http hooks).</param>
/// <param name="HookEventName"><c>hook_event_name</c> from the payload (PreToolUse, Stop, SessionStart, ...).</param>
/// <param name="ClaudeSessionId"><c>session_id</c> from the payload.</param>
/// <param name="Payload">The parsed payload.</param>
/// <param name="RawJson">The payload exactly as received.</param>
/// <param name="ClaudePid">The Claude Code process, when known (command hooks; http hooks when the peer was resolved); 0 otherwise.</param>
/// <param name="LaunchId">RELAY_LAUNCH_ID from the hook client's environment, when present.</param>
/// <param name="ProjectDirectory">CLAUDE_PROJECT_DIR, when known.</param>
/// <param name="Transport">How it arrived.</param>
/// <param name="ReceivedAt">When the agent (or the hook client) received it.</param>
/// <param name="Replayed">True for a command hook replayed from the drop directory: nobody waits for the answer.</param>
internal sealed record HookContext(
    string EventId,
    string HookEventName,
    string ClaudeSessionId,
    JsonObject Payload,
    string RawJson,
    int ClaudePid,
    string? LaunchId,
    string? ProjectDirectory,
    HookTransport Transport,
    DateTimeOffset ReceivedAt,
    bool Replayed)
{
    /// <summary>The payload's <c>cwd</c>, or empty.</summary>
    public string WorkingDirectory => Payload["cwd"] is JsonValue cwd && cwd.TryGetValue(out string? value) ? value : string.Empty;
}
