using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;

namespace Relay.Broker.Delivery;

/// <summary>
/// When a session ends, prompts still on their way to it fail ("session ended") and its pending permission requests
/// close: nobody is left to deliver them to or to ask.
/// </summary>
internal sealed class SessionEndEffects : ISessionEndObserver
{
    public async Task SessionEndedAsync(IngestContext context, RelaySession session, CancellationToken cancellationToken)
    {
        var prompts = await context.Db.Prompts
            .Where(p => p.RelaySessionId == session.Id && (p.Status == PromptStatus.Queued || p.Status == PromptStatus.Sent))
            .ToListAsync(cancellationToken);
        foreach (var prompt in prompts.Where(p => p.Status is PromptStatus.Queued or PromptStatus.Sent))
        {
            prompt.Status = PromptStatus.Failed;
            prompt.FailedAt = context.Now;
            prompt.FailureReason = "The session ended before the prompt was delivered.";
            context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        }

        var approvals = await context.Db.Approvals
            .Where(a => a.RelaySessionId == session.Id && a.Status == ApprovalStatus.Pending)
            .ToListAsync(cancellationToken);
        foreach (var approval in approvals.Where(a => a.Status == ApprovalStatus.Pending))
        {
            approval.Status = ApprovalStatus.Closed;
            approval.DecidedAt = context.Now;
            approval.Reason = "The session ended.";
            context.Publish(BrokerSignals.Approval(approval.Id.ToString("D")));
        }

    }
}
