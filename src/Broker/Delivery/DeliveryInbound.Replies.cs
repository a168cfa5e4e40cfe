using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using Reply = Relay.Broker.Persistence.Entities.Reply;
using ReplySource = Relay.Protocol.V1.ReplySource;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>
    /// Claude said something back: stored once (by reply id), linked to the prompt it names when that prompt went to
    /// this session (→ REPLIED), and, when the prompt came from another session, forwarded to that session as a prompt.
    /// </summary>
    public async Task ApplyReplyAsync(IngestContext context, SessionReply reply, CancellationToken cancellationToken)
    {
        var replyId = Evidence.RequiredClientId("reply", reply.ReplyId, "reply.reply_id");
        var inReplyTo = Evidence.OptionalUuid(reply.InReplyTo, "reply.in_reply_to");
        var evidence = Evidence.Read(reply.Session, "reply.session");
        var session = await sessions.ResolveAsync(context, evidence, new SessionReconciler.Hint(), cancellationToken);
        var at = reply.CreatedAt?.ToDateTimeOffset() ?? context.Now;
        SessionReconciler.Touch(context, session, at);
        var stored = context.StoredReplies is { } known
            ? !known.Add(replyId)
            : await context.Db.Replies.FindAsync([replyId], cancellationToken) is not null;
        if (stored)
        {
            return; // A retransmission the seq check could not catch (a new spool epoch): stored once.
        }

        Prompt? prompt = null;
        if (inReplyTo is { } promptId)
        {
            prompt = await context.Db.Prompts.FindAsync([promptId], cancellationToken);
            if (prompt is not null && prompt.RelaySessionId != session.Id)
            {
                DeliveryLog.ReplyNotLinked(logger, replyId, promptId, session.Id);
                prompt = null;
            }
        }

        var row = new Reply
        {
            Id = replyId,
            PromptId = prompt?.Id,
            RelaySessionId = session.Id,
            ClaudeSessionId = evidence.ClaudeSessionId,
            Text = reply.Text,
            Source = reply.Source switch
            {
                ReplySource.ReplyTool => Db.ReplySource.ReplyTool,
                ReplySource.StopHook => Db.ReplySource.StopHook,
                _ => null,
            },
            CreatedAt = at,
        };
        context.Db.Replies.Add(row);
        context.AddEvent(EventKind.Reply, replyId, session.Id, at, Prompts.PromptMapper.ToProto(row, session.Name, context.Machine.Id), evidence.ClaudeSessionId);

        if (prompt is null)
        {
            return;
        }

        if (prompt.Status != Db.PromptStatus.Replied)
        {
            // A reply is the strongest evidence there is: it wins even over an EXPIRED or FAILED the agent reported.
            prompt.Status = Db.PromptStatus.Replied;
            prompt.RepliedAt = at;
            prompt.SeenAt ??= at;
            prompt.DeliveredAt ??= at;
            context.AddEvent(EventKind.PromptUpdated, context.DerivedEventId($"prompt_replied/{prompt.Id:N}"), session.Id, at,
                Prompts.PromptMapper.ToProto(prompt, session.Name, context.Machine.Id));
        }

        context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
        if (prompt.SenderKind == SenderKind.Session && Guid.TryParse(prompt.SenderId, out var senderSessionId))
        {
            await ForwardReplyAsync(context, row, prompt, session, senderSessionId, cancellationToken);
        }
    }

    /// <summary>The answer to a session's message goes back to that session, threaded to the message.</summary>
    private async Task ForwardReplyAsync(IngestContext context, Reply reply, Prompt message, RelaySession replier, Guid senderSessionId, CancellationToken cancellationToken)
    {
        var sender = await context.Db.Sessions.FindAsync([senderSessionId], cancellationToken);
        if (sender is null || sender.Status == Db.SessionStatus.Ended)
        {
            return;
        }

        var forwarded = new Prompt
        {
            Id = Queries.ClientIds.NameBased("reply-forward/" + reply.Id.ToString("D")),
            IdempotencyKey = "reply:" + reply.Id.ToString("D"),
            RelaySessionId = sender.Id,
            SenderKind = SenderKind.Session,
            SenderId = replier.Id.ToString("D"),
            SenderName = Evidence.Truncate(SessionLabel(replier, context.Machine.Name), Persistence.Limits.Actor),
            Text = reply.Text,
            Status = Db.PromptStatus.Queued,
            CreatedAt = context.Now,
            ExpiresAt = context.Now + options.Value.DefaultMessageExpiry,
            InReplyTo = message.Id,
        };
        context.Db.Prompts.Add(forwarded);
        context.AddEvent(EventKind.PromptCreated, forwarded.Id, sender.Id, context.Now, Prompts.PromptMapper.ToProto(forwarded, sender.Name, sender.MachineId), machineId: sender.MachineId);
        context.Publish(BrokerSignals.Prompt(forwarded.Id.ToString("D")));
        context.Publish(BrokerSignals.MachineOutbound(sender.MachineId.ToString("D")));
    }
}
