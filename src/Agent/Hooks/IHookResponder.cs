using System.Text.Json.Nodes;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// Decides what the agent answers a hook with: the standing briefing on SessionStart, prompts delivered through hook
/// output when a session has no working channel (DESIGN.md §4), a remote verdict on PermissionRequest. Implemented by
/// the local side (prompts, approvals, briefings); called by the hook endpoints after the event is spooled.
/// </summary>
internal interface IHookResponder
{
    /// <summary>
    /// The hook output object to answer Claude Code with, or null for none. Completes within
    /// <paramref name="cancellationToken"/>'s bound (the endpoint cancels it at its answer deadline and then answers
    /// nothing); when a prompt was put into the output, the responder records it as delivered only once the answer
    /// was handed back (see <see cref="HookAnswer.Commit"/>).
    /// </summary>
    ValueTask<HookAnswer> RespondAsync(HookContext hook, SessionEvidence session, CancellationToken cancellationToken);
}

/// <summary>The answer to a hook.</summary>
/// <param name="Output">The JSON object to answer with; null = answer nothing.</param>
/// <param name="Commit">
/// Called by the endpoint after the answer was written to Claude Code (receipts of prompts delivered this way are
/// spooled then); null when there is nothing to record. Not called when the answer could not be written.
/// </param>
internal sealed record HookAnswer(JsonObject? Output, Func<CancellationToken, ValueTask>? Commit)
{
    /// <summary>Answer nothing.</summary>
    public static HookAnswer None { get; } = new(null, null);
}
