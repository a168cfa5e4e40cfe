using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Hooks;
using Relay.Agent.Local;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Approvals;

/// <summary>
/// Remote approvals. A channel's permission_request and a PermissionRequest http hook each become a spooled
/// PermissionRequest; the broker's PermissionVerdict goes back the way the request came: to the channel's Attach
/// stream, or as the held hook's answer. A hook is held at most <see cref="LocalAgentOptions.PermissionHoldTimeout"/>;
/// then it answers nothing (Claude asks in the terminal) and the request is closed. A hook and a channel request for
/// the same session and tool within <see cref="LocalAgentOptions.PermissionDedupeWindow"/> are one request, and its
/// verdict answers both.
/// </summary>
internal sealed partial class ApprovalCoordinator
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PendingApproval> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<PermissionVerdict>> _undelivered = [];
    private readonly IAgentSpool _spool;
    private readonly SessionTracker _tracker;
    private readonly ChannelRegistry _channels;
    private readonly TimeProvider _time;
    private readonly LocalAgentOptions _options;
    private readonly ILogger<ApprovalCoordinator> _logger;

    public ApprovalCoordinator(
        IAgentSpool spool,
        SessionTracker tracker,
        ChannelRegistry channels,
        TimeProvider time,
        IOptions<LocalAgentOptions> options,
        ILogger<ApprovalCoordinator> logger)
    {
        _spool = spool;
        _tracker = tracker;
        _channels = channels;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Requests waiting for a verdict.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Claude Code asked the channel for a decision.</summary>
    public async ValueTask OnChannelRequestAsync(SessionView session, ChannelPermissionRequest request, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var requestId = request.RequestId.ToLowerInvariant();
        string approvalId;
        lock (_lock)
        {
            if (_pending.Values.Any(p => p.SessionId == session.Id && p.ClaudeRequestId == requestId))
            {
                return; // re-sent after a re-attach
            }

            if (FindPartner(session.Id, request.ToolName, now, hookSide: false) is { } joined)
            {
                joined.ClaudeRequestId = requestId;
                ApprovalLog.Joined(_logger, joined.ApprovalId, "channel");
                return;
            }

            approvalId = Guid.NewGuid().ToString("D");
            _pending[approvalId] = new PendingApproval
            {
                ApprovalId = approvalId,
                SessionId = session.Id,
                ToolName = request.ToolName,
                RequestedAt = now,
                ClaudeRequestId = requestId,
            };
        }

        await _spool.AppendAsync(new AgentMessage
        {
            PermissionRequest = new PermissionRequest
            {
                ApprovalId = approvalId,
                Session = session.Evidence(),
                Origin = ApprovalOrigin.Channel,
                ClaudeRequestId = requestId,
                ToolName = request.ToolName,
                Description = request.Description,
                InputPreview = request.InputPreview,
                RequestedAt = request.ReceivedAt ?? Timestamp.FromDateTimeOffset(now),
            },
        }, cancellationToken);
        ApprovalLog.Requested(_logger, approvalId, "channel", request.ToolName);
    }

    /// <summary>
    /// Holds a PermissionRequest hook for the broker's verdict and answers with it; answers nothing when no verdict
    /// comes within the bound (or <paramref name="cancellationToken"/>, the endpoint's deadline, fires first).
    /// </summary>
    public async ValueTask<HookAnswer> HoldHookAsync(SessionView session, HookContext hook, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var toolName = hook.Payload["tool_name"] is JsonValue name && name.TryGetValue(out string? tool) ? tool : string.Empty;
        if (toolName.Length == 0)
        {
            return HookAnswer.None;
        }

        var waiter = new TaskCompletionSource<PermissionVerdict>(TaskCreationOptions.RunContinuationsAsynchronously);
        PendingApproval approval;
        bool joined;
        lock (_lock)
        {
            var partner = FindPartner(session.Id, toolName, now, hookSide: true);
            joined = partner is not null;
            approval = partner ?? new PendingApproval
            {
                ApprovalId = Guid.NewGuid().ToString("D"),
                SessionId = session.Id,
                ToolName = toolName,
                RequestedAt = now,
            };
            approval.HookWaiter = waiter;
            _pending[approval.ApprovalId] = approval;
        }

        if (joined)
        {
            ApprovalLog.Joined(_logger, approval.ApprovalId, "hook");
        }
        else
        {
            var input = hook.Payload["tool_input"];
            await _spool.AppendAsync(new AgentMessage
            {
                PermissionRequest = new PermissionRequest
                {
                    ApprovalId = approval.ApprovalId,
                    Session = session.Evidence(hook.ClaudeSessionId),
                    Origin = ApprovalOrigin.Hook,
                    ToolName = toolName,
                    Description = input?["description"] is JsonValue d && d.TryGetValue(out string? text) ? text : string.Empty,
                    ToolInputJson = input?.ToJsonString() ?? string.Empty,
                    RequestedAt = Timestamp.FromDateTimeOffset(hook.ReceivedAt),
                    ExpiresAt = Timestamp.FromDateTimeOffset(now + _options.PermissionHoldTimeout),
                },
            }, cancellationToken);
            ApprovalLog.Requested(_logger, approval.ApprovalId, "hook", toolName);
        }

        using var bound = new CancellationTokenSource(_options.PermissionHoldTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(bound.Token, cancellationToken);
        try
        {
            var verdict = await waiter.Task.WaitAsync(linked.Token);
            return Answer(verdict);
        }
        catch (OperationCanceledException)
        {
            await GiveUpAsync(approval, waiter);
            return HookAnswer.None;
        }
    }

    /// <summary>The broker decided: answer the held hook and/or pass the verdict to the channel.</summary>
    public void OnVerdict(PermissionVerdict verdict)
    {
        PendingApproval? approval;
        lock (_lock)
        {
            if (!_pending.Remove(verdict.ApprovalId, out approval))
            {
                ApprovalLog.UnknownVerdict(_logger, verdict.ApprovalId);
                return;
            }
        }

        approval.HookWaiter?.TrySetResult(verdict);
        if (approval.ClaudeRequestId is { } requestId)
        {
            var forChannel = verdict.Clone();
            forChannel.ClaudeRequestId = requestId;
            var channel = _channels.Get(_tracker.Get(approval.SessionId)?.ChannelId);
            if (channel is null || !channel.TrySend(new AgentToChannelMessage { PermissionVerdict = forChannel }))
            {
                lock (_lock)
                {
                    // Claude's dialog is still open; the channel gets it when it re-attaches.
                    (_undelivered.TryGetValue(approval.SessionId, out var list) ? list : _undelivered[approval.SessionId] = []).Add(forChannel);
                }
            }
        }

        ApprovalLog.Decided(_logger, verdict.ApprovalId, verdict.Decision);
    }

    /// <summary>A channel (re-)attached: it gets the verdicts that found it away.</summary>
    public void OnChannelAttached(ChannelConnection channel)
    {
        List<PermissionVerdict>? verdicts;
        lock (_lock)
        {
            _undelivered.Remove(channel.SessionId, out verdicts);
        }

        foreach (var verdict in verdicts ?? [])
        {
            channel.TrySend(new AgentToChannelMessage { PermissionVerdict = verdict });
        }
    }

    /// <summary>
    /// A later hook shows that a channel-only request was answered in the terminal: the tool ran or failed, Claude
    /// stopped, or a new prompt came. The request closes.
    /// </summary>
    public async ValueTask ObserveHookAsync(SessionView session, HookContext hook, CancellationToken cancellationToken)
    {
        var toolName = hook.Payload["tool_name"] is JsonValue name && name.TryGetValue(out string? tool) ? tool : null;
        List<PendingApproval> closed;
        lock (_lock)
        {
            closed = _pending.Values.Where(p => p.SessionId == session.Id && p.HookWaiter is null && p.RequestedAt <= hook.ReceivedAt
                    && (hook.HookEventName is "Stop" or "UserPromptSubmit"
                        || (hook.HookEventName is "PostToolUse" or "PostToolUseFailure" or "PermissionDenied" && p.ToolName == toolName)))
                .ToList();
            foreach (var approval in closed)
            {
                _pending.Remove(approval.ApprovalId);
            }
        }

        foreach (var approval in closed)
        {
            await CloseAsync(approval, "Answered in the terminal (a later " + hook.HookEventName + " hook of the session shows it).", cancellationToken);
        }
    }

    /// <summary>Sessions whose Claude process is gone: their requests close.</summary>
    public async ValueTask OnSessionsGoneAsync(IReadOnlyList<SessionView> gone, CancellationToken cancellationToken)
    {
        var ids = gone.Select(s => s.Id).ToHashSet();
        List<PendingApproval> closed;
        lock (_lock)
        {
            closed = _pending.Values.Where(p => ids.Contains(p.SessionId)).ToList();
            foreach (var approval in closed)
            {
                _pending.Remove(approval.ApprovalId);
            }

            foreach (var id in ids)
            {
                _undelivered.Remove(id);
            }
        }

        foreach (var approval in closed)
        {
            approval.HookWaiter?.TrySetCanceled(CancellationToken.None);
            await CloseAsync(approval, "The session's Claude process ended.", cancellationToken);
        }
    }

    private PendingApproval? FindPartner(long sessionId, string toolName, DateTimeOffset now, bool hookSide) =>
        _pending.Values.FirstOrDefault(p => p.SessionId == sessionId && p.ToolName == toolName
            && now - p.RequestedAt <= _options.PermissionDedupeWindow
            && (hookSide ? p.HookWaiter is null && p.ClaudeRequestId is not null : p.ClaudeRequestId is null && p.HookWaiter is not null));

    private async ValueTask GiveUpAsync(PendingApproval approval, TaskCompletionSource<PermissionVerdict> waiter)
    {
        bool close;
        lock (_lock)
        {
            if (approval.HookWaiter == waiter)
            {
                approval.HookWaiter = null;
            }

            // When the channel's copy is still open the request stays pending for it.
            close = approval.ClaudeRequestId is null && _pending.Remove(approval.ApprovalId);
        }

        if (close)
        {
            // The hook's own token may have fired: a short bound of our own, so the closing is still recorded.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await CloseAsync(approval, "No remote verdict within " + _options.PermissionHoldTimeout.TotalSeconds + " s; the held hook let Claude ask in the terminal.", bound.Token);
        }
    }

    private async ValueTask CloseAsync(PendingApproval approval, string reason, CancellationToken cancellationToken)
    {
        await _spool.AppendAsync(new AgentMessage
        {
            PermissionClosed = new PermissionClosed
            {
                ApprovalId = approval.ApprovalId,
                Reason = reason,
                At = Timestamp.FromDateTimeOffset(_time.GetUtcNow()),
            },
        }, cancellationToken);
        ApprovalLog.Closed(_logger, approval.ApprovalId, reason);
    }

    private static HookAnswer Answer(PermissionVerdict verdict)
    {
        var decision = new JsonObject();
        switch (verdict.Decision)
        {
            case ApprovalDecision.Allow:
                decision["behavior"] = "allow";
                break;
            case ApprovalDecision.Deny:
                decision["behavior"] = "deny";
                var by = verdict.DecidedBy?.DisplayName is { Length: > 0 } who ? " by " + who : string.Empty;
                decision["message"] = verdict.Reason.Length > 0 ? verdict.Reason : "Denied through Relay" + by + ".";
                break;
            default:
                return HookAnswer.None;
        }

        return new HookAnswer(
            new JsonObject { ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = "PermissionRequest", ["decision"] = decision } },
            null);
    }
}
