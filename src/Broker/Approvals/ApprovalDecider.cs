using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.AgentLink;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Queries;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Approvals;

/// <summary>
/// DecideApproval: records a verdict on a pending permission request (who, when, why) and signals the session's machine;
/// AgentLink routes the verdict back the way the request came. Deciding again the same way changes nothing.
/// </summary>
internal sealed class ApprovalDecider(
    IDbContextFactory<RelayDbContext> dbFactory,
    ApprovalReader reader,
    AuditLog audit,
    TimelineWriter timeline,
    BrokerSignals signals,
    TimeProvider timeProvider,
    LiveStreamFill liveStreams)
{
    public async Task<Pb.Approval> DecideAsync(Caller caller, Pb.DecideApprovalRequest request, CancellationToken cancellationToken)
    {
        var id = Require.Id(request.ApprovalId, "approval_id", "the approval_id from ListApprovals");
        var status = request.Decision switch
        {
            Pb.ApprovalDecision.Allow => Db.ApprovalStatus.Allowed,
            Pb.ApprovalDecision.Deny => Db.ApprovalStatus.Denied,
            _ => throw AdminErrors.InvalidArgument("decision", "must be APPROVAL_DECISION_ALLOW or APPROVAL_DECISION_DENY."),
        };
        var reason = Require.OptionalText(request.Reason, "reason", Limits.Reason);

        // xmin guards the row: if AgentLink closed it between our read and write, look again (once is enough: a closed
        // or decided approval does not change again).
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await TryDecideAsync(caller, id, status, reason, cancellationToken);
            }
            catch (DbUpdateConcurrencyException) when (attempt == 0)
            {
            }
        }
    }

    private async Task<Pb.Approval> TryDecideAsync(Caller caller, Guid id, Db.ApprovalStatus status, string? reason, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        ApprovalWithContext decided;
        PendingFill? filled;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            db.Database.AutoSavepointsEnabled = false; // all or nothing: EF's savepoints would be two more round trips per save
            await TimelineWriter.LockAsync(db, cancellationToken);
            var row = await ApprovalReader.WithContext(db, db.Approvals.Where(a => a.Id == id)).FirstOrDefaultAsync(cancellationToken)
                ?? throw AdminErrors.NotFound($"no approval has the id {id:D}.");
            var approval = row.Approval;
            if (approval.Status == status)
            {
                return (await ApprovalReader.MapAsync(db, [row], cancellationToken))[0]; // the same decision again: unchanged
            }

            var deciders = await Principals.ResolveAsync(db, approval.DecidedBy is { } by ? [by] : [], cancellationToken);
            EnsurePending(approval, approval.DecidedBy is { } d ? deciders[d].DisplayName : null, now);
            approval.Status = status;
            approval.DecidedBy = caller.AuditActor;
            approval.DecidedAt = now;
            approval.Reason = reason;
            var session = await db.Sessions.AsNoTracking().Where(s => s.Id == approval.RelaySessionId).Select(s => new { s.MachineId }).FirstAsync(cancellationToken);
            audit.Add(db, new AuditRecord(caller, AuditActions.ApprovalDecide, AuditTarget.Approval(id.ToString("D")))
            {
                SessionId = approval.RelaySessionId,
                MachineId = session.MachineId,
                Details = new { Decision = status == Db.ApprovalStatus.Allowed ? "allow" : "deny", Reason = reason, approval.ToolName },
            });
            await db.SaveChangesAsync(cancellationToken);

            decided = row;
            var message = (await ApprovalReader.MapAsync(db, [row], cancellationToken))[0];
            await timeline.AppendAsync(
                db,
                [new TimelineEntry(row.MachineId, approval.RelaySessionId, TimelineKinds.ApprovalResolved, Guid.NewGuid(), now, ProtoJson.Format(message))],
                cancellationToken);
            // The machine's stream is here: the verdict is numbered for it now and goes out on commit.
            filled = await liveStreams.FillAsync(db, new MachineIdentity(row.MachineId, row.MachineName), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        signals.Publish(BrokerSignals.Events);
        signals.Publish(BrokerSignals.Approval(id.ToString("D")));
        liveStreams.AfterCommit(filled, decided.MachineId);
        return (await reader.GetManyAsync([id], cancellationToken))[id];
    }

    private static void EnsurePending(Db.Approval approval, string? decidedBy, DateTimeOffset now)
    {
        var who = decidedBy is null ? "" : $" by '{decidedBy}'";
        var when = approval.DecidedAt is { } at ? $" at {at:u}" : "";
        switch (approval.Status)
        {
            case Db.ApprovalStatus.Allowed or Db.ApprovalStatus.Denied:
                throw AdminErrors.FailedPrecondition(
                    $"approval {approval.Id:D} was already {approval.Status.ToString().ToLowerInvariant()}{who}{when}; a decision cannot be changed.");
            case Db.ApprovalStatus.Expired:
                throw AdminErrors.FailedPrecondition($"approval {approval.Id:D} expired{when}; Claude Code no longer waits for it.");
            case Db.ApprovalStatus.Closed:
                throw AdminErrors.FailedPrecondition($"approval {approval.Id:D} was closed ({approval.Reason ?? "answered elsewhere"}); Claude Code no longer waits for it.");
        }

        if (approval.ExpiresAt <= now)
        {
            throw AdminErrors.FailedPrecondition($"approval {approval.Id:D} expired at {approval.ExpiresAt:u}; Claude Code no longer waits for it.");
        }
    }
}
