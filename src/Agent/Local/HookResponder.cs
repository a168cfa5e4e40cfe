using System.Text.Json.Nodes;
using Relay.Agent.Approvals;
using Relay.Agent.Briefings;
using Relay.Agent.Hooks;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// What a hook is answered with (claude-code.md §2.8): SessionStart gets the session's standing briefing; a
/// PermissionRequest is held for a remote verdict; tool, prompt and Stop hooks carry prompts of sessions without a
/// working channel (DESIGN.md §4). Every hook is also evidence: it closes requests answered in the terminal and marks
/// earlier deliveries SEEN.
/// </summary>
internal sealed class HookResponder(
    SessionTracker tracker,
    PromptQueue prompts,
    ApprovalCoordinator approvals,
    BriefingStore briefings) : IHookResponder
{
    public async ValueTask<HookAnswer> RespondAsync(HookContext hook, SessionEvidence session, CancellationToken cancellationToken)
    {
        var view = tracker.FindForHook(hook);
        if (view is null)
        {
            return HookAnswer.None;
        }

        await approvals.ObserveHookAsync(view, hook, cancellationToken);
        await prompts.ObserveHookAsync(view, hook, cancellationToken);
        if (hook.Replayed)
        {
            return HookAnswer.None; // nobody waits for this answer
        }

        if (hook.HookEventName == "PermissionRequest")
        {
            return await approvals.HoldHookAsync(view, hook, cancellationToken);
        }

        var briefing = hook.HookEventName == "SessionStart" ? briefings.TextFor(view.Name) : null;
        var taken = prompts.TakeForHook(view, hook);
        if (taken is null && briefing is null)
        {
            return HookAnswer.None;
        }

        Func<CancellationToken, ValueTask>? commit = taken is null ? null : token => prompts.CommitHookAsync(taken, view, hook, token);
        if (taken is { Path: DeliveryPath.HookStopBlock })
        {
            // A Stop hook's block reason becomes Claude's next input: the conversation continues with the prompt.
            return new HookAnswer(new JsonObject { ["decision"] = "block", ["reason"] = taken.Text }, commit);
        }

        var context = string.Join("\n\n", new[] { briefing, taken?.Text }.Where(t => !string.IsNullOrEmpty(t)));
        return new HookAnswer(
            new JsonObject
            {
                ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = hook.HookEventName, ["additionalContext"] = context },
            },
            commit);
    }
}
