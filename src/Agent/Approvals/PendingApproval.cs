using Relay.Protocol.V1;

namespace Relay.Agent.Approvals;

/// <summary>A permission request waiting for the broker's verdict; touched only under the coordinator's lock.</summary>
internal sealed class PendingApproval
{
    public required string ApprovalId { get; init; }

    public required long SessionId { get; init; }

    public required string ToolName { get; init; }

    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>A held PermissionRequest hook waiting for the verdict; null when no hook waits.</summary>
    public TaskCompletionSource<PermissionVerdict>? HookWaiter { get; set; }

    /// <summary>Claude Code's request id of the channel's copy (lowercase); null when the channel has none.</summary>
    public string? ClaudeRequestId { get; set; }
}
