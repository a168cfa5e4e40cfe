using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>Output formats of <c>claude -p</c>.</summary>
public enum ClaudeCodeOutputFormat
{
    /// <summary>The final answer as plain text.</summary>
    Text,

    /// <summary>One JSON object: <c>result</c>, <c>session_id</c>, <c>num_turns</c>, <c>is_error</c>, usage…</summary>
    Json,

    /// <summary>NDJSON events (system/init, assistant, user, result…); the harness adds the required <c>--verbose</c>.</summary>
    StreamJson,
}

/// <summary>One <c>claude -p</c> run. Everything but <see cref="Prompt"/> has a sensible default.</summary>
public sealed class ClaudeCodeRunOptions
{
    /// <summary>The prompt passed to <c>-p</c>.</summary>
    public required string Prompt { get; init; }

    /// <summary>Passed as <c>--session-id</c> (Claude Code refuses an id whose transcript already exists).</summary>
    public Guid SessionId { get; init; } = Guid.NewGuid();

    /// <summary>Continue the existing session <see cref="SessionId"/> (<c>--resume</c> instead of <c>--session-id</c>).</summary>
    public bool Resume { get; init; }

    /// <summary>Written to a file and passed as <c>--settings</c> (e.g. <see cref="HookSettings.Build"/>).</summary>
    public JsonObject? Settings { get; init; }

    /// <summary>Written to a file and passed as <c>--mcp-config</c> (<c>{"mcpServers":{…}}</c>).</summary>
    public JsonObject? McpConfig { get; init; }

    /// <summary>Passed as <c>--allowedTools</c> (permission-rule syntax: <c>Bash</c>, <c>mcp__relay__reply</c>, …).</summary>
    public IReadOnlyList<string> AllowedTools { get; init; } = [];

    public ClaudeCodeOutputFormat OutputFormat { get; init; } = ClaudeCodeOutputFormat.Json;

    /// <summary>Writes Claude Code's debug log here (<c>--debug-file</c>); useful when a test fails.</summary>
    public string? DebugFile { get; init; }

    /// <summary>Any further arguments, appended after the harness's own.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Extra environment for Claude (and so its hooks and MCP servers); a null value removes a variable.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Working directory; default <see cref="ClaudeCodeHome.ProjectDirectory"/>.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The run is killed (whole process tree) after this long and the harness throws with its output.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}
