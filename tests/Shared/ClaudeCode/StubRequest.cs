using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>How the stub classified a request.</summary>
public enum StubRequestKind
{
    /// <summary><c>POST /v1/messages</c> with tools: a step of the conversation; consumes the script.</summary>
    Turn,

    /// <summary><c>POST /v1/messages</c> without tools (titles, summaries, classifiers): plain text, script untouched.</summary>
    Side,

    /// <summary>
    /// <c>POST /v1/messages</c> asking for a conversation summary (<c>/compact</c> or auto-compaction; it carries tools
    /// but forbids calling them): answered with <see cref="MessagesApiStub.CompactionSummary"/>, script untouched.
    /// </summary>
    Compaction,

    /// <summary><c>POST /v1/messages/count_tokens</c>.</summary>
    CountTokens,

    /// <summary>Anything else Claude Code asked for.</summary>
    Other,
}

/// <summary>A request Claude Code sent to the stub, as received.</summary>
public sealed class StubRequest
{
    internal StubRequest(
        int index, StubRequestKind kind, string method, string pathAndQuery, IReadOnlyDictionary<string, string> headers, string rawBody, JsonObject? body)
    {
        Index = index;
        Kind = kind;
        Method = method;
        PathAndQuery = pathAndQuery;
        Headers = headers;
        RawBody = rawBody;
        Body = body;
    }

    /// <summary>The body as a JSON object, or null when it is empty or not JSON.</summary>
    internal static JsonObject? ParseBody(string rawBody)
    {
        try
        {
            return rawBody.Length == 0 ? null : JsonNode.Parse(rawBody) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Position among all requests the stub received (0-based).</summary>
    public int Index { get; }

    public StubRequestKind Kind { get; }

    public string Method { get; }

    /// <summary>e.g. <c>/v1/messages?beta=true</c>.</summary>
    public string PathAndQuery { get; }

    /// <summary>Request headers (lower-case names), e.g. <c>x-claude-code-session-id</c>, <c>x-api-key</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public string RawBody { get; }

    /// <summary>The JSON body (model, messages, system, tools, …) or null.</summary>
    public JsonObject? Body { get; }

    /// <summary>The conversation so far: <c>messages</c>.</summary>
    public JsonArray Messages => Body?["messages"] as JsonArray ?? [];

    /// <summary>
    /// How many assistant messages the conversation already holds: 0 for the first step of a prompt, 1 after one tool
    /// call, … A stable way for a <see cref="MessagesApiStub.Fallback"/> to know where it is when requests of a
    /// background subagent interleave with the main conversation.
    /// </summary>
    public int AssistantMessages => Messages.Count(m => (string?)m?["role"] == "assistant");

    /// <summary>The text of the first user message (the prompt; for a subagent, the task it was given).</summary>
    public string FirstUserText =>
        string.Join('\n', Messages.FirstOrDefault(m => (string?)m?["role"] == "user") is { } first ? Strings(first["content"]) : []);

    /// <summary>Names of the tools offered to the model (built-ins and <c>mcp__server__tool</c>).</summary>
    public IReadOnlyList<string> ToolNames =>
        (Body?["tools"] as JsonArray ?? []).Select(t => (string?)t?["name"]).OfType<string>().ToList();

    /// <summary>The session id header Claude Code puts on API requests.</summary>
    public string? SessionId => Headers.GetValueOrDefault("x-claude-code-session-id");

    /// <summary>All text of the system prompt.</summary>
    public string SystemText => string.Join('\n', Strings(Body?["system"]));

    /// <summary>Every string in the messages (text blocks, tool inputs and results, system reminders).</summary>
    public IEnumerable<string> MessageTexts => Strings(Body?["messages"]);

    /// <summary>True when <paramref name="text"/> occurs in any message string (not the system prompt).</summary>
    public bool MessagesContain(string text) => MessageTexts.Any(s => s.Contains(text, StringComparison.Ordinal));

    /// <summary>True when <paramref name="text"/> occurs in the last message (the newest user input or tool results).</summary>
    public bool LastMessageContains(string text) => LastMessageTexts.Any(s => s.Contains(text, StringComparison.Ordinal));

    /// <summary>The strings of the last message (the newest user input or tool results with their reminders).</summary>
    public IEnumerable<string> LastMessageTexts => Messages.Count == 0 ? [] : Strings(Messages[^1]);

    /// <summary>The tool_result blocks of the last message.</summary>
    public IReadOnlyList<JsonObject> LastToolResults =>
        (Messages.Count == 0 ? null : Messages[^1]?["content"] as JsonArray ?? [])?
            .OfType<JsonObject>()
            .Where(b => (string?)b["type"] == "tool_result")
            .ToList() ?? [];

    public override string ToString() => $"#{Index} {Kind} {Method} {PathAndQuery} ({RawBody.Length} bytes)";

    private static IEnumerable<string> Strings(JsonNode? node)
    {
        switch (node)
        {
            case JsonValue value when value.TryGetValue<string>(out var s):
                yield return s;
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    foreach (var s in Strings(item))
                    {
                        yield return s;
                    }
                }

                break;
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    foreach (var s in Strings(child))
                    {
                        yield return s;
                    }
                }

                break;
        }
    }
}
