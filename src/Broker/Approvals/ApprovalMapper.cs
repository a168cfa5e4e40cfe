using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Audit;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Approvals;

/// <summary>Approval rows as relay.v1 messages.</summary>
internal static class ApprovalMapper
{
    /// <param name="approval">The row.</param>
    /// <param name="context">Its session's name and machine.</param>
    /// <param name="principals">Principals of stored actors (decided_by), from <see cref="Principals.ResolveAsync"/>.</param>
    public static Pb.Approval ToProto(Db.Approval approval, ApprovalContext context, IReadOnlyDictionary<string, Pb.Principal>? principals = null)
    {
        var origin = approval.Origin ?? (approval.RequestId == approval.Id.ToString("D") ? Db.ApprovalOrigin.Hook : Db.ApprovalOrigin.Channel);
        return new Pb.Approval
        {
            ApprovalId = approval.Id.ToString("D"),
            SessionId = approval.RelaySessionId.ToString("D"),
            SessionName = context.SessionName ?? "",
            MachineId = context.MachineId.ToString("D"),
            MachineName = context.MachineName,
            Origin = origin == Db.ApprovalOrigin.Channel ? Pb.ApprovalOrigin.Channel : Pb.ApprovalOrigin.Hook,
            // For hook requests the row's request id is the approval id (they have no Claude request id).
            ClaudeRequestId = origin == Db.ApprovalOrigin.Channel ? approval.RequestId : "",
            ToolName = approval.ToolName,
            Description = approval.Description ?? "",
            InputPreview = approval.InputPreview ?? "",
            ToolInputJson = approval.ToolInputJson ?? "",
            Status = ToProto(approval.Status),
            Decision = approval.Status switch
            {
                Db.ApprovalStatus.Allowed => Pb.ApprovalDecision.Allow,
                Db.ApprovalStatus.Denied => Pb.ApprovalDecision.Deny,
                _ => Pb.ApprovalDecision.Unspecified,
            },
            DecidedBy = approval.DecidedBy is null ? null
                : principals?.GetValueOrDefault(approval.DecidedBy) ?? AuditLog.ActorPrincipal(approval.DecidedBy),
            Reason = approval.Reason ?? "",
            RequestedAt = Timestamp.FromDateTimeOffset(approval.CreatedAt),
            ExpiresAt = Timestamp.FromDateTimeOffset(approval.ExpiresAt),
            ResolvedAt = approval.DecidedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        };
    }

    public static Pb.ApprovalStatus ToProto(Db.ApprovalStatus status) => status switch
    {
        Db.ApprovalStatus.Pending => Pb.ApprovalStatus.Pending,
        Db.ApprovalStatus.Allowed => Pb.ApprovalStatus.Allowed,
        Db.ApprovalStatus.Denied => Pb.ApprovalStatus.Denied,
        Db.ApprovalStatus.Expired => Pb.ApprovalStatus.Expired,
        Db.ApprovalStatus.Closed => Pb.ApprovalStatus.Closed,
        _ => Pb.ApprovalStatus.Unspecified,
    };

    public static Db.ApprovalStatus? FromProto(Pb.ApprovalStatus status) => status switch
    {
        Pb.ApprovalStatus.Pending => Db.ApprovalStatus.Pending,
        Pb.ApprovalStatus.Allowed => Db.ApprovalStatus.Allowed,
        Pb.ApprovalStatus.Denied => Db.ApprovalStatus.Denied,
        Pb.ApprovalStatus.Expired => Db.ApprovalStatus.Expired,
        Pb.ApprovalStatus.Closed => Db.ApprovalStatus.Closed,
        _ => null,
    };
}

/// <summary>What an approval row does not hold itself: its session's name and machine.</summary>
internal readonly record struct ApprovalContext(string? SessionName, Guid MachineId, string MachineName);
