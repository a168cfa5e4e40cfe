using System.Text.Json;
using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>One content block of a scripted assistant message.</summary>
public abstract record StubBlock;

/// <summary>A text block.</summary>
public sealed record StubTextBlock(string Text) : StubBlock;

/// <summary>A tool call: Claude Code runs the tool <paramref name="Name"/> with <paramref name="Input"/>.</summary>
public sealed record StubToolUseBlock(string Id, string Name, JsonObject Input) : StubBlock;

/// <summary>
/// One scripted answer of the Messages API stub: an assistant message made of text and tool_use blocks (stop_reason
/// <c>tool_use</c> when it has a tool call, otherwise <c>end_turn</c>), or an API error.
/// </summary>
public sealed record StubTurn
{
    private static int _toolUseCounter;

    private StubTurn(IReadOnlyList<StubBlock> blocks, StubError? error)
    {
        Blocks = blocks;
        Error = error;
    }

    public IReadOnlyList<StubBlock> Blocks { get; }

    /// <summary>When set, the stub answers with this HTTP error instead of a message.</summary>
    public StubError? Error { get; }

    /// <summary><c>tool_use</c> when the turn calls a tool, otherwise <c>end_turn</c>.</summary>
    public string StopReason => Blocks.Any(b => b is StubToolUseBlock) ? "tool_use" : "end_turn";

    /// <summary>A plain text answer: Claude ends its turn.</summary>
    public static StubTurn Text(string text) => new([new StubTextBlock(text)], null);

    /// <summary>
    /// A tool call. <paramref name="input"/> is a <see cref="JsonObject"/> or any object serialised to one
    /// (e.g. <c>new { command = "echo hi", description = "say hi" }</c>).
    /// </summary>
    public static StubTurn ToolUse(string toolName, object input, string? toolUseId = null) =>
        new([ToolUseBlock(toolName, input, toolUseId)], null);

    /// <summary>Several blocks in one message, e.g. some text and then one or more tool calls (run in parallel).</summary>
    public static StubTurn Of(params StubBlock[] blocks) => new(blocks, null);

    /// <summary>
    /// An API error such as <c>(400, "invalid_request_error")</c>. Claude Code 2.1.328 retries even a 400 once (and
    /// 429/5xx/529 several times with backoff), so to fail a turn set it as <see cref="MessagesApiStub.Fallback"/>
    /// (answers every request) rather than enqueueing it once.
    /// </summary>
    public static StubTurn Failure(int statusCode, string errorType, string message) =>
        new([], new StubError(statusCode, errorType, message));

    /// <summary>A tool_use block with a fresh id (<c>toolu_stub_N</c>) unless one is given.</summary>
    public static StubToolUseBlock ToolUseBlock(string toolName, object input, string? toolUseId = null) => new(
        toolUseId ?? $"toolu_stub_{Interlocked.Increment(ref _toolUseCounter):D4}",
        toolName,
        input as JsonObject ?? JsonSerializer.SerializeToNode(input)?.AsObject()
            ?? throw new ArgumentException("A tool input must serialise to a JSON object.", nameof(input)));
}

/// <summary>An HTTP error answer in the Messages API error shape.</summary>
public sealed record StubError(int StatusCode, string Type, string Message);
