using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>What a finished <c>claude -p</c> run produced.</summary>
public sealed record ClaudeCodeRunResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, Guid SessionId)
{
    /// <summary>The single object printed by <c>--output-format json</c>.</summary>
    public JsonObject Json => JsonNode.Parse(Stdout)?.AsObject()
        ?? throw new InvalidOperationException("claude printed no JSON:\n" + Describe());

    /// <summary>The events printed by <c>--output-format stream-json</c>, one per line.</summary>
    public IReadOnlyList<JsonObject> StreamEvents => Stdout
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(line => JsonNode.Parse(line)!.AsObject())
        .ToList();

    /// <summary>The final answer (<c>result</c> of the json output).</summary>
    public string? ResultText => (string?)Json["result"];

    /// <summary>Exit code, stdout and stderr, for assertion messages.</summary>
    public string Describe() => $"exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}
