using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using Approval = Relay.Broker.Persistence.Entities.Approval;
using ApprovalOrigin = Relay.Protocol.V1.ApprovalOrigin;
using ApprovalStatus = Relay.Broker.Persistence.Entities.ApprovalStatus;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>A tool call waits for permission: a PENDING approval that a person decides through Admin.</summary>
    public async Task ApplyPermissionRequestAsync(IngestContext context, PermissionRequest request, CancellationToken cancellationToken)
    {
        // The verdict must carry the agent's own id back, so only a UUID (which round-trips) is accepted.
        var approvalId = Evidence.RequiredUuid(request.ApprovalId, "permission_request.approval_id");
        var toolName = Evidence.Bounded(request.ToolName, Limits.ToolName, "permission_request.tool_name");
        if (toolName.Length == 0)
        {
            throw new MessageRejectedException(ErrorCode.InvalidArgument, "permission_request.tool_name must not be empty.");
        }

        var claudeRequestId = Evidence.Bounded(request.ClaudeRequestId, Limits.RequestId, "permission_request.claude_request_id");
        var evidence = Evidence.Read(request.Session, "permission_request.session");
        var session = await sessions.ResolveAsync(context, evidence, new SessionReconciler.Hint(), cancellationToken);
        if (await context.Db.Approvals.FindAsync([approvalId], cancellationToken) is { } existing)
        {
            if (existing.RelaySessionId != session.Id)
            {
                throw new MessageRejectedException(ErrorCode.InvalidArgument, $"permission_request.approval_id {approvalId:D} is already used by another session.");
            }

            return;
        }

        var at = request.RequestedAt?.ToDateTimeOffset() ?? context.Now;
        var approval = new Approval
        {
            Id = approvalId,
            RelaySessionId = session.Id,
            RequestId = claudeRequestId.Length > 0 ? claudeRequestId : approvalId.ToString("D"),
            Origin = request.Origin switch
            {
                ApprovalOrigin.Channel => Persistence.Entities.ApprovalOrigin.Channel,
                ApprovalOrigin.Hook => Persistence.Entities.ApprovalOrigin.Hook,
                _ => claudeRequestId.Length > 0 ? Persistence.Entities.ApprovalOrigin.Channel : Persistence.Entities.ApprovalOrigin.Hook,
            },
            ToolName = toolName,
            Description = request.Description.Length == 0 ? null : Evidence.Truncate(request.Description, Limits.Description),
            InputPreview = request.InputPreview.Length == 0 ? null : Evidence.Truncate(request.InputPreview, Limits.InputPreview),
            ToolInputJson = request.ToolInputJson.Length == 0 ? null : request.ToolInputJson,
            Status = ApprovalStatus.Pending,
            CreatedAt = at,
            ExpiresAt = request.ExpiresAt?.ToDateTimeOffset() ?? context.Now + options.Value.DefaultApprovalExpiry,
        };
        context.Db.Approvals.Add(approval);
        SessionReconciler.SetStatus(context, session, SessionStatus.WaitingForApproval, at);
        context.Publish(BrokerSignals.Approval(approvalId.ToString("D")));
        context.AddEvent(EventKind.PermissionRequest, approvalId, session.Id, at,
            DeliveryProtos.ToApproval(approval, context.Machine.Id, context.Machine.Name, session.Name), evidence.ClaudeSessionId, toolName: toolName);
    }

    /// <summary>A permission request closed without a remote verdict (answered in the terminal, given up, session gone).</summary>
    public static async Task ApplyPermissionClosedAsync(IngestContext context, PermissionClosed closed, CancellationToken cancellationToken)
    {
        var approvalId = Evidence.RequiredUuid(closed.ApprovalId, "permission_closed.approval_id");
        var approval = await context.Db.Approvals.FindAsync([approvalId], cancellationToken)
            ?? throw new MessageRejectedException(ErrorCode.NotFound, $"permission_closed.approval_id {approvalId:D} is not a permission request the broker knows.");
        var session = await OwnSessionAsync(context, approval.RelaySessionId, "permission_closed.approval_id", cancellationToken);
        if (approval.Status != ApprovalStatus.Pending)
        {
            return; // Decided (or expired) first; the agent's verdict arrives or arrived through the outbox.
        }

        var at = closed.At?.ToDateTimeOffset() ?? context.Now;
        approval.Status = ApprovalStatus.Closed;
        approval.DecidedAt = at;
        approval.Reason = Evidence.Truncate(closed.Reason.Length > 0 ? closed.Reason : "Closed on the machine.", Limits.Reason);
        await ResumeWorkIfNoApprovalPendsAsync(context, session, approval.Id, at, cancellationToken);
        context.Publish(BrokerSignals.Approval(approvalId.ToString("D")));
        context.AddEvent(EventKind.PermissionClosed, context.DerivedEventId($"permission_closed/{approvalId:N}"), session.Id, at,
            DeliveryProtos.ToApproval(approval, context.Machine.Id, context.Machine.Name, session.Name));
    }

    private static async Task ResumeWorkIfNoApprovalPendsAsync(IngestContext context, RelaySession session, Guid closing, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (session.Status != SessionStatus.WaitingForApproval)
        {
            return;
        }

        var othersPending = await context.Db.Approvals.AnyAsync(
            a => a.RelaySessionId == session.Id && a.Id != closing && a.Status == ApprovalStatus.Pending, cancellationToken);
        if (!othersPending)
        {
            SessionReconciler.SetStatus(context, session, SessionStatus.Working, at);
        }
    }
}
