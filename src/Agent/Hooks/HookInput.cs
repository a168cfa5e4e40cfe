using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>One hook as an endpoint received it, before it is parsed.</summary>
/// <param name="RawJson">The payload as received (UTF-8 decoded).</param>
/// <param name="RawBytes">The payload's size in UTF-8 bytes.</param>
/// <param name="EventId">The event id: the hook client's for command hooks, agent-generated for http hooks.</param>
/// <param name="Transport">How it arrived.</param>
/// <param name="ClaudePid">The Claude Code process when known; 0 otherwise.</param>
/// <param name="LaunchId">RELAY_LAUNCH_ID when known.</param>
/// <param name="ProjectDirectory">CLAUDE_PROJECT_DIR when known.</param>
/// <param name="ReceivedAt">When it was received (by the hook client for command hooks).</param>
/// <param name="RouteEventName">The event named by the URL (<c>/hooks/{event}</c>), used when the payload names none.</param>
internal sealed record HookInput(
    string RawJson,
    long RawBytes,
    string EventId,
    HookTransport Transport,
    int ClaudePid,
    string? LaunchId,
    string? ProjectDirectory,
    DateTimeOffset ReceivedAt,
    string? RouteEventName = null)
{
    /// <summary>True for a command hook replayed from the drop directory: nobody waits for the answer.</summary>
    public bool Replayed => Transport == HookTransport.CommandReplayed;
}

/// <summary>What to answer a hook with.</summary>
/// <param name="OutputJson">The hook output JSON object; empty to answer nothing.</param>
/// <param name="Commit">To call once the answer was handed back (see <see cref="HookAnswer.Commit"/>); null for nothing.</param>
internal sealed record HookResult(string OutputJson, Func<CancellationToken, ValueTask>? Commit)
{
    /// <summary>Answer nothing.</summary>
    public static HookResult Empty { get; } = new(string.Empty, null);
}
