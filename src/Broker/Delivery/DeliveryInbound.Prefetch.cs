using Microsoft.EntityFrameworkCore;
using Relay.Broker.Sessions;
using Relay.Protocol.V1;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>
    /// Before a batch's messages are applied: when several of them are receipts or replies, the prompts they name are
    /// read (and tracked) in one query and the replies already stored in another, instead of two lookups per message.
    /// The batch runs inside a transaction holding the event-order lock, where every round trip makes others wait.
    /// </summary>
    public static async Task PrefetchAsync(IngestContext context, IEnumerable<AgentMessage> messages, CancellationToken cancellationToken)
    {
        var prompts = new HashSet<Guid>();
        var replies = new HashSet<Guid>();
        var count = 0;
        foreach (var message in messages)
        {
            switch (message.BodyCase)
            {
                case AgentMessage.BodyOneofCase.PromptReceipt when Guid.TryParse(message.PromptReceipt.PromptId, out var receiptOf):
                    prompts.Add(receiptOf);
                    count++;
                    break;
                case AgentMessage.BodyOneofCase.Reply:
                    if (Guid.TryParse(message.Reply.InReplyTo, out var replyTo))
                    {
                        prompts.Add(replyTo);
                    }

                    if (Guid.TryParse(message.Reply.ReplyId, out var replyId))
                    {
                        replies.Add(replyId);
                    }

                    count++;
                    break;
            }
        }

        // One of them looks itself up in as many round trips as the prefetch would take.
        if (count < 2)
        {
            return;
        }

        if (prompts.Count > 0)
        {
            await context.Db.Prompts.Where(p => prompts.Contains(p.Id)).LoadAsync(cancellationToken);
        }

        context.StoredReplies = replies.Count == 0
            ? []
            : (await context.Db.Replies.AsNoTracking().Where(r => replies.Contains(r.Id)).Select(r => r.Id).ToListAsync(cancellationToken)).ToHashSet();
    }
}
