using System.Text.Json.Nodes;
using Relay.Agent.Hooks;
using Relay.Agent.Sessions;
using Relay.Protocol.V1;

namespace Relay.Agent.Prompts;

/// <summary>Prompts a hook answer carries, reserved for it until <see cref="PromptQueue.CommitHookAsync"/>.</summary>
/// <param name="Prompts">The prompts, oldest first.</param>
/// <param name="Path">HOOK_CONTEXT or HOOK_STOP_BLOCK.</param>
/// <param name="Text">The text to put into the answer.</param>
internal sealed record HookPrompts(IReadOnlyList<PromptDelivery> Prompts, DeliveryPath Path, string Text);

internal sealed partial class PromptQueue
{
    /// <summary>
    /// The hook events whose answer can carry a prompt: tool and prompt hooks through additionalContext, Stop through
    /// <c>decision: block</c> (its reason continues the conversation). Anything else carries none.
    /// </summary>
    public static DeliveryPath PathFor(string hookEventName) => hookEventName switch
    {
        "PreToolUse" or "PostToolUse" or "PostToolUseFailure" or "PostToolBatch" or "UserPromptSubmit" or "SessionStart"
            => DeliveryPath.HookContext,
        "Stop" => DeliveryPath.HookStopBlock,
        _ => DeliveryPath.Unspecified,
    };

    /// <summary>
    /// Reserves the session's prompts that may go through this hook: when it has no working channel (none attached
    /// after <see cref="Local.LocalAgentOptions.ChannelAttachWait"/>, or Claude runs without the channel flag), or when
    /// its channel did not ack within <see cref="Local.LocalAgentOptions.PromptAckTimeout"/>. Null when there is none.
    /// </summary>
    public HookPrompts? TakeForHook(SessionView session, HookContext hook)
    {
        EnsureLoaded();
        var path = PathFor(hook.HookEventName);
        // A hook inside a subagent would hand the prompt to the subagent, not to the session.
        if (path == DeliveryPath.Unspecified || hook.Payload.ContainsKey("agent_id"))
        {
            return null;
        }

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var taken = new List<QueuedPrompt>();
            var budget = PromptText.HookBudget;
            foreach (var prompt in _prompts.Values
                .Where(p => p.State == PromptState.Pending && p.ReservedUntil <= now && !p.IsExpired(now) && IsFor(p, session) && MayUseHook(p, session, now))
                .OrderBy(p => p.ReceivedAt))
            {
                var cost = PromptText.Cost(prompt.Delivery);
                if (taken.Count > 0 && cost > budget)
                {
                    break;
                }

                taken.Add(prompt);
                budget -= cost;
            }

            if (taken.Count == 0)
            {
                return null;
            }

            foreach (var prompt in taken)
            {
                prompt.ReservedBy = hook.EventId;
                prompt.ReservedUntil = now + _options.HookReservation;
            }

            var deliveries = taken.Select(p => p.Delivery).ToList();
            return new HookPrompts(deliveries, path, PromptText.ForHook(deliveries));
        }
    }

    /// <summary>The hook answer carrying <paramref name="taken"/> was written: DELIVERED via the hook.</summary>
    public async ValueTask CommitHookAsync(HookPrompts taken, SessionView session, HookContext hook, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var committed = new List<QueuedPrompt>();
        lock (_lock)
        {
            foreach (var delivery in taken.Prompts)
            {
                if (_prompts.TryGetValue(delivery.PromptId, out var prompt) && prompt.State == PromptState.Pending && prompt.ReservedBy == hook.EventId)
                {
                    prompt.State = PromptState.Delivered;
                    prompt.DeliveredToSession = session.Id;
                    prompt.DeliveredAt = now;
                    prompt.DeliveredByEvent = hook.EventId;
                    committed.Add(prompt);
                }
            }
        }

        var evidence = (_tracker.Get(session.Id) ?? session).Evidence(hook.ClaudeSessionId);
        foreach (var prompt in committed)
        {
            await ReceiptAsync(prompt, PromptStatus.Delivered, taken.Path, hook.HookEventName, evidence, string.Empty, cancellationToken);
            await FinishAfterReceiptAsync(prompt.Id, cancellationToken);
            PromptLog.Delivered(_logger, prompt.Id, "hook", hook.HookEventName);
        }
    }

    /// <summary>A later hook of the session is evidence that Claude took in what was delivered before it: SEEN.</summary>
    public async ValueTask ObserveHookAsync(SessionView session, HookContext hook, CancellationToken cancellationToken)
    {
        List<QueuedPrompt> seen;
        lock (_lock)
        {
            seen = _prompts.Values
                .Where(p => p.State == PromptState.Delivered && p.DeliveredToSession == session.Id
                    && p.DeliveredByEvent != hook.EventId && hook.ReceivedAt >= p.DeliveredAt)
                .ToList();
            foreach (var prompt in seen)
            {
                Finish(prompt);
            }
        }

        var evidence = session.Evidence(hook.ClaudeSessionId);
        foreach (var prompt in seen)
        {
            await ReceiptAsync(prompt, PromptStatus.Seen, DeliveryPath.Unspecified, string.Empty, evidence, string.Empty, cancellationToken);
        }

        // A session that got prompts through hooks may have no reply tool: the turn's last message is its answer.
        var answered = seen.LastOrDefault(p => p.DeliveredByEvent is not null && !p.Local);
        if (hook.HookEventName == "Stop" && session.ChannelId is null && answered is not null
            && hook.Payload["last_assistant_message"] is JsonValue last && last.TryGetValue(out string? text) && text.Length > 0)
        {
            await _spool.AppendAsync(new AgentMessage
            {
                Reply = new SessionReply
                {
                    // Derived from the hook's event id: a replayed Stop hook makes the same reply, which the broker stores once.
                    ReplyId = "stop-hook:" + hook.EventId,
                    Session = evidence,
                    InReplyTo = answered.Id,
                    Text = text,
                    Source = ReplySource.StopHook,
                    CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(hook.ReceivedAt),
                },
            }, cancellationToken);
        }
    }

    /// <summary>
    /// A reply naming a prompt is evidence that Claude saw it: the prompt leaves the queue. No SEEN receipt: the reply,
    /// spooled right behind this, says more (the broker sets the prompt REPLIED, and seen and delivered when they are
    /// not yet). The journal gets a "done" line only when the prompt was not delivered yet (a delivered one has it).
    /// </summary>
    public async ValueTask ObserveReplyAsync(string inReplyTo, CancellationToken cancellationToken)
    {
        if (inReplyTo.Length == 0)
        {
            return;
        }

        QueuedPrompt? prompt;
        bool wasPending;
        lock (_lock)
        {
            if (!_prompts.TryGetValue(inReplyTo, out prompt) || prompt.State == PromptState.Finished || prompt.ReservedUntil > _time.GetUtcNow())
            {
                return;
            }

            wasPending = prompt.State == PromptState.Pending;
            Finish(prompt);
        }

        if (wasPending)
        {
            await _store.FinishAsync(prompt.Id, cancellationToken);
        }
    }

    private bool MayUseHook(QueuedPrompt prompt, SessionView session, DateTimeOffset now)
    {
        if (!session.ChannelCapable)
        {
            return true;
        }

        if (session.ChannelId is null)
        {
            return now - session.FirstSeen >= _options.ChannelAttachWait;
        }

        return prompt.SentToChannelId == session.ChannelId && now - prompt.SentAt >= _options.PromptAckTimeout;
    }
}
