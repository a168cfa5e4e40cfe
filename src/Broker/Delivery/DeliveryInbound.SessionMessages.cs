using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Policy;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>
    /// A session messages another (send_message): policy, then the target, then a prompt to it with the sending session
    /// as sender. The sender hears the outcome as a SessionMessageStatus (QUEUED, or FAILED with a reason).
    /// </summary>
    public async Task ApplySessionMessageAsync(IngestContext context, SessionMessage message, CancellationToken cancellationToken)
    {
        var messageId = Evidence.RequiredClientId("prompt", message.MessageId, "session_message.message_id");
        var inReplyTo = Evidence.OptionalUuid(message.InReplyTo, "session_message.in_reply_to");
        var sender = await sessions.ResolveAsync(context, Evidence.Read(message.Sender, "session_message.sender"), new SessionReconciler.Hint(), cancellationToken);
        SessionReconciler.Touch(context, sender, context.Now);

        if (await context.Db.Prompts.FindAsync([messageId], cancellationToken) is { } existing)
        {
            if (existing.SenderKind != SenderKind.Session || existing.SenderId != sender.Id.ToString("D"))
            {
                throw new MessageRejectedException(ErrorCode.InvalidArgument, $"session_message.message_id {message.MessageId} is already the id of another prompt.");
            }

            // A retry: answer again with where it stands.
            var target = await context.Db.Sessions.FindAsync([existing.RelaySessionId], cancellationToken);
            await StatusToSenderAsync(context, messageId, sender, target, existing.Status, existing.FailureReason ?? string.Empty, ErrorCode.Unspecified, cancellationToken);
            return;
        }

        var refusal = message.Text.Length == 0 ? (ErrorCode.InvalidArgument, "The message is empty.")
            : message.Text.Length > options.Value.MaxMessageChars ? (ErrorCode.ResourceExhausted, $"The message has {message.Text.Length} characters; at most {options.Value.MaxMessageChars} are accepted.")
            : ((ErrorCode, string)?)null;
        SessionTargetResolver.Result resolved = default;
        if (refusal is null)
        {
            resolved = await SessionTargetResolver.ResolveAsync(context.Db, message.Target, cancellationToken);
            refusal = resolved.Session is null ? (resolved.Code, resolved.Reason)
                : resolved.Session.Status == SessionStatus.Ended ? (ErrorCode.SessionEnded, "The target session has ended.")
                : null;
        }

        var senderCaller = Caller.ForSession(sender.Id, sender.Name, context.Machine.Id, context.Machine.Name);
        if (refusal is null)
        {
            // The broker's messaging policy (src/Broker/Policy): by default the team's sessions may message each other; a
            // SetPolicy rule can refuse it. A refusal is audited in the batch's transaction, so it commits before the ack.
            var target = resolved.Session!;
            var decision = await policy.MayMessageAsync(senderCaller, PolicyTarget(target, resolved.MachineName), cancellationToken);
            if (!decision.Allowed)
            {
                audit.Add(context.Db, new AuditRecord(senderCaller, AuditActions.PromptSend, AuditTarget.Prompt(messageId.ToString("D")))
                {
                    Outcome = AuditOutcome.Denied,
                    SessionId = target.Id,
                    MachineId = target.MachineId,
                    Details = new { decision.Reason, MessageKey = message.MessageId, SenderSessionId = sender.Id },
                });
                refusal = (ErrorCode.PermissionDenied, decision.Reason);
            }
        }

        if (refusal is { } failed)
        {
            DeliveryLog.SessionMessageRefused(logger, messageId, sender.Id, failed.Item2);
            await StatusToSenderAsync(context, messageId, sender, resolved.Session, PromptStatus.Failed, failed.Item2, failed.Item1, cancellationToken);
            return;
        }

        var targetSession = resolved.Session!;
        var prompt = new Prompt
        {
            Id = messageId,
            IdempotencyKey = message.MessageId,
            RelaySessionId = targetSession.Id,
            SenderKind = SenderKind.Session,
            SenderId = sender.Id.ToString("D"),
            SenderName = Evidence.Truncate(SessionLabel(sender, context.Machine.Name), Limits.Actor),
            Text = message.Text,
            Status = PromptStatus.Queued,
            CreatedAt = message.CreatedAt?.ToDateTimeOffset() ?? context.Now,
            ExpiresAt = context.Now + (message.ExpiresIn is { } expiresIn && expiresIn.ToTimeSpan() > TimeSpan.Zero ? expiresIn.ToTimeSpan() : options.Value.DefaultMessageExpiry),
            InReplyTo = inReplyTo is { } thread && await context.Db.Prompts.FindAsync([thread], cancellationToken) is not null ? thread : null,
        };
        context.Db.Prompts.Add(prompt);
        audit.Add(context.Db, new AuditRecord(senderCaller, AuditActions.PromptSend, AuditTarget.Prompt(prompt.Id.ToString("D")))
        {
            SessionId = targetSession.Id,
            MachineId = targetSession.MachineId,
            Details = new { MessageKey = message.MessageId, TextChars = message.Text.Length, prompt.ExpiresAt, SenderSessionId = sender.Id },
        });
        context.AddEvent(EventKind.PromptCreated, prompt.Id, targetSession.Id, context.Now,
            Prompts.PromptMapper.ToProto(prompt, targetSession.Name, targetSession.MachineId), machineId: targetSession.MachineId);
        context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        context.Publish(BrokerSignals.MachineOutbound(targetSession.MachineId.ToString("D")));
        await StatusToSenderAsync(context, messageId, sender, targetSession, PromptStatus.Queued, string.Empty, ErrorCode.Unspecified, cancellationToken);
    }

    private static PolicyTargetInfo PolicyTarget(RelaySession target, string? machineName) => new()
    {
        MachineId = target.MachineId,
        MachineName = machineName,
        SessionName = string.IsNullOrEmpty(target.Name) ? null : target.Name,
        Directory = string.IsNullOrEmpty(target.Cwd) ? null : target.Cwd,
    };

    /// <summary>A session message failed or expired later: its sender hears it too.</summary>
    private static async Task TellSenderAsync(IngestContext context, Prompt prompt, RelaySession target, Protocol.V1.PromptStatus status, string reason, ErrorCode code, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(prompt.SenderId, out var senderId) && await context.Db.Sessions.FindAsync([senderId], cancellationToken) is { } sender)
        {
            await StatusToSenderAsync(context, prompt.Id, sender, target, Map(status), reason, code, cancellationToken);
        }
    }

    /// <summary>Queues a SessionMessageStatus in the sending machine's outbox (sequenced, so it survives a reconnect).</summary>
    private static async Task StatusToSenderAsync(
        IngestContext context, Guid messageId, RelaySession sender, RelaySession? target, PromptStatus status, string reason, ErrorCode code, CancellationToken cancellationToken)
    {
        var targetMachineName = target is null ? string.Empty
            : target.MachineId == context.Machine.Id ? context.Machine.Name
            : (await context.Db.Machines.FindAsync([target.MachineId], cancellationToken))?.Name ?? string.Empty;
        var statusMessage = new SessionMessageStatus
        {
            MessageId = messageId.ToString("D"),
            Status = ToProto(status),
            TargetSessionId = target?.Id.ToString("D") ?? string.Empty,
            TargetSessionName = target?.Name ?? string.Empty,
            TargetMachineName = targetMachineName,
            Reason = reason,
            ErrorCode = code,
            At = Timestamp.FromDateTimeOffset(context.Now),
        };
        OutboxStore.Append(context.Db, sender.MachineId, OutboxKind.SessionMessageStatus, messageId, new BrokerMessage { SessionMessageStatus = statusMessage }, context.Now);
        context.Publish(BrokerSignals.MachineOutbound(sender.MachineId.ToString("D")));
    }

    private static Protocol.V1.PromptStatus ToProto(PromptStatus status) => Prompts.PromptMapper.ToProto(status);

    private static PromptStatus Map(Protocol.V1.PromptStatus status) => status switch
    {
        Protocol.V1.PromptStatus.Expired => PromptStatus.Expired,
        Protocol.V1.PromptStatus.Failed => PromptStatus.Failed,
        Protocol.V1.PromptStatus.Sent => PromptStatus.Sent,
        _ => PromptStatus.Queued,
    };
}
