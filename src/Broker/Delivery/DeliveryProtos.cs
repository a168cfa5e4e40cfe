using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Persistence.Entities;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Delivery;

/// <summary>Rows as the relay.v1 messages AgentLink sends to agents and stores in the event log.</summary>
internal static class DeliveryProtos
{
    /// <summary>A prompt on its way to the agent.</summary>
    public static Pb.PromptDelivery ToDelivery(Prompt prompt, Guid? claudeSessionId, Pb.Principal sender) => new()
    {
        PromptId = prompt.Id.ToString("D"),
        SessionId = prompt.RelaySessionId.ToString("D"),
        ClaudeSessionId = claudeSessionId?.ToString("D") ?? string.Empty,
        Text = prompt.Text,
        Sender = sender,
        SentAt = Timestamp.FromDateTimeOffset(prompt.CreatedAt),
        ExpiresAt = Timestamp.FromDateTimeOffset(prompt.ExpiresAt),
        IsSessionMessage = prompt.SenderKind == SenderKind.Session,
        InReplyTo = prompt.InReplyTo?.ToString("D") ?? string.Empty,
    };

    /// <summary>
    /// An actor as stored in created_by/decided_by/requested_by columns ("token:&lt;id&gt;", "machine:&lt;id&gt;",
    /// "session:&lt;id&gt;", "system") as a Principal; <paramref name="displayName"/> when known.
    /// </summary>
    public static Pb.Principal ActorToPrincipal(string? actor, string? displayName = null)
    {
        var (kind, id) = actor?.Split(':', 2) switch
        {
            ["token", var t] => (Pb.PrincipalKind.User, t),
            ["machine", var m] => (Pb.PrincipalKind.Machine, m),
            ["session", var s] => (Pb.PrincipalKind.Session, s),
            ["system"] or null => (Pb.PrincipalKind.System, string.Empty),
            _ => (Pb.PrincipalKind.Unspecified, actor),
        };
        return new Pb.Principal { Kind = kind, Id = id, DisplayName = displayName ?? (kind == Pb.PrincipalKind.System ? "relay" : id) };
    }

    public static Pb.Approval ToApproval(Approval approval, Guid machineId, string machineName, string? sessionName) => new()
    {
        ApprovalId = approval.Id.ToString("D"),
        SessionId = approval.RelaySessionId.ToString("D"),
        SessionName = sessionName ?? string.Empty,
        MachineId = machineId.ToString("D"),
        MachineName = machineName,
        Origin = approval.Origin switch
        {
            ApprovalOrigin.Channel => Pb.ApprovalOrigin.Channel,
            ApprovalOrigin.Hook => Pb.ApprovalOrigin.Hook,
            _ => Pb.ApprovalOrigin.Unspecified,
        },
        ClaudeRequestId = approval.Origin == ApprovalOrigin.Channel ? approval.RequestId : string.Empty,
        ToolName = approval.ToolName,
        Description = approval.Description ?? string.Empty,
        InputPreview = approval.InputPreview ?? string.Empty,
        ToolInputJson = approval.ToolInputJson ?? string.Empty,
        Status = approval.Status switch
        {
            ApprovalStatus.Pending => Pb.ApprovalStatus.Pending,
            ApprovalStatus.Allowed => Pb.ApprovalStatus.Allowed,
            ApprovalStatus.Denied => Pb.ApprovalStatus.Denied,
            ApprovalStatus.Expired => Pb.ApprovalStatus.Expired,
            _ => Pb.ApprovalStatus.Closed,
        },
        Reason = approval.Reason ?? string.Empty,
        RequestedAt = Timestamp.FromDateTimeOffset(approval.CreatedAt),
        ExpiresAt = Timestamp.FromDateTimeOffset(approval.ExpiresAt),
        ResolvedAt = approval.DecidedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
    };

    public static Pb.Launch ToLaunch(Launch launch, string machineName) => new()
    {
        LaunchId = launch.Id.ToString("D"),
        MachineId = launch.MachineId.ToString("D"),
        MachineName = machineName,
        SessionId = launch.RelaySessionId?.ToString("D") ?? string.Empty,
        Cwd = launch.Cwd,
        Name = launch.Name ?? string.Empty,
        InitialPromptId = launch.InitialPromptId?.ToString("D") ?? string.Empty,
        ClaudeArgs = { launch.ClaudeArgs },
        Status = launch.Status switch
        {
            LaunchStatus.Requested => Pb.LaunchStatus.Requested,
            LaunchStatus.Sent => Pb.LaunchStatus.Sent,
            LaunchStatus.Started or LaunchStatus.Stopped => Pb.LaunchStatus.Started,
            LaunchStatus.Failed => Pb.LaunchStatus.Failed,
            _ => Pb.LaunchStatus.Unspecified,
        },
        RequestedBy = ActorToPrincipal(launch.RequestedBy),
        RequestedAt = Timestamp.FromDateTimeOffset(launch.CreatedAt),
        StartedAt = launch.StartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
        ClaudeSessionId = launch.ClaudeSessionId?.ToString("D") ?? string.Empty,
        TmuxTarget = launch.TmuxTarget ?? string.Empty,
        ClaudePid = launch.ClaudePid ?? 0,
        Error = launch.Status == LaunchStatus.Failed ? launch.Result ?? string.Empty : string.Empty,
        Local = launch.Local,
    };

    /// <summary>Protobuf's Duration for an optional TimeSpan.</summary>
    public static Duration? ToDuration(TimeSpan? value) => value is { } v ? Duration.FromTimeSpan(v) : null;
}
