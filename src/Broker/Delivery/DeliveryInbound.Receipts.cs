using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;
using DeliveryPath = Relay.Protocol.V1.DeliveryPath;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Protocol.V1.PromptStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>A prompt progressed on the machine: DELIVERED (with its path), SEEN, EXPIRED or FAILED. Only ever forward.</summary>
    public static async Task ApplyReceiptAsync(IngestContext context, PromptReceipt receipt, CancellationToken cancellationToken)
    {
        var promptId = Evidence.RequiredUuid(receipt.PromptId, "prompt_receipt.prompt_id");
        var prompt = await context.Db.Prompts.FindAsync([promptId], cancellationToken)
            ?? throw new MessageRejectedException(ErrorCode.NotFound, $"prompt_receipt.prompt_id {promptId:D} is not a prompt the broker knows.");
        var session = await OwnSessionAsync(context, prompt.RelaySessionId, "prompt_receipt.prompt_id", cancellationToken);
        var evidence = Evidence.Read(receipt.Session, "prompt_receipt.session");
        var at = receipt.At?.ToDateTimeOffset() ?? context.Now;
        var before = prompt.Status;

        switch (receipt.Status)
        {
            case PromptStatus.Delivered:
                if (prompt.DeliveredAt is null)
                {
                    context.Deliveries.Add((at - prompt.CreatedAt, receipt.DeliveryPath.ToString().ToLowerInvariant()));
                }

                prompt.DeliveredAt ??= at;
                prompt.DeliveryPath ??= ToPath(receipt.DeliveryPath);
                prompt.DeliveredToClaudeSessionId ??= evidence.ClaudeSessionId;
                Advance(prompt, Db.PromptStatus.Delivered);
                break;
            case PromptStatus.Seen:
                prompt.DeliveredAt ??= at;
                prompt.SeenAt ??= at;
                Advance(prompt, Db.PromptStatus.Seen);
                break;
            case PromptStatus.Expired when prompt.Status is Db.PromptStatus.Queued or Db.PromptStatus.Sent:
                prompt.Status = Db.PromptStatus.Expired;
                prompt.ExpiredAt = at;
                prompt.FailureReason = Evidence.Truncate(receipt.Reason.Length > 0 ? receipt.Reason : "Not delivered before it expired.", Persistence.Limits.Reason);
                break;
            case PromptStatus.Failed when prompt.Status is Db.PromptStatus.Queued or Db.PromptStatus.Sent or Db.PromptStatus.Delivered:
                prompt.Status = Db.PromptStatus.Failed;
                prompt.FailedAt = at;
                prompt.FailureReason = Evidence.Truncate(receipt.Reason.Length > 0 ? receipt.Reason : "The agent could not deliver it.", Persistence.Limits.Reason);
                break;
            case PromptStatus.Expired or PromptStatus.Failed:
                break; // Too late: it was delivered (or answered) already.
            default:
                throw new MessageRejectedException(ErrorCode.InvalidArgument, $"prompt_receipt.status {receipt.Status} is not one of DELIVERED, SEEN, EXPIRED, FAILED.");
        }

        SessionReconciler.Touch(context, session, at);
        if (prompt.Status == before && receipt.Status is not (PromptStatus.Delivered or PromptStatus.Seen))
        {
            return;
        }

        context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        context.AddEvent(EventKind.PromptReceipt, context.DerivedEventId($"prompt_receipt/{prompt.Id:N}/{receipt.Status}"), session.Id, at,
            Prompts.PromptMapper.ToProto(prompt, session.Name, context.Machine.Id));
        if (prompt.SenderKind == SenderKind.Session && prompt.Status is Db.PromptStatus.Failed or Db.PromptStatus.Expired)
        {
            await TellSenderAsync(context, prompt, session, prompt.Status == Db.PromptStatus.Failed ? PromptStatus.Failed : PromptStatus.Expired,
                prompt.FailureReason ?? string.Empty, ErrorCode.Unspecified, cancellationToken);
        }
    }

    /// <summary>Moves a prompt forward in QUEUED &lt; SENT &lt; DELIVERED &lt; SEEN &lt; REPLIED; never back, never out of EXPIRED/FAILED.</summary>
    private static void Advance(Prompt prompt, Db.PromptStatus status)
    {
        if (Rank(prompt.Status) < Rank(status))
        {
            prompt.Status = status;
        }
    }

    private static int Rank(Db.PromptStatus status) => status switch
    {
        Db.PromptStatus.Queued => 0,
        Db.PromptStatus.Sent => 1,
        Db.PromptStatus.Delivered => 2,
        Db.PromptStatus.Seen => 3,
        Db.PromptStatus.Replied => 4,
        _ => int.MaxValue, // Expired, Failed: terminal.
    };

    private static Db.DeliveryPath? ToPath(DeliveryPath path) => path switch
    {
        DeliveryPath.Channel => Db.DeliveryPath.Channel,
        DeliveryPath.HookContext => Db.DeliveryPath.HookContext,
        DeliveryPath.HookStopBlock => Db.DeliveryPath.HookStopBlock,
        _ => null,
    };
}
