using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>One hook invocation as a recorder saw it: the input JSON and, for http hooks, the request headers.</summary>
public sealed record RecordedHook(string Event, JsonObject Payload, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary><c>session_id</c> of the payload.</summary>
    public string? SessionId => (string?)Payload["session_id"];

    /// <summary><c>tool_name</c> of a tool event's payload.</summary>
    public string? ToolName => (string?)Payload["tool_name"];
}
