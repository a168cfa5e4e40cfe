using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Prompts;

/// <summary>
/// AgentLink's side of a prompt's lifecycle, done the way AgentLink does it: status changes with their timestamps in
/// the database, then the prompt's signal. Stands in for an agent where the tests only need the broker's half.
/// </summary>
internal static class AgentSimulation
{
    public static async Task DeliverAsync(TestDatabase database, BrokerSignals signals, Guid promptId, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        await using var db = database.CreateContext();
        await db.Prompts.Where(p => p.Id == promptId).ExecuteUpdateAsync(
            u => u.SetProperty(p => p.Status, PromptStatus.Delivered).SetProperty(p => p.SentAt, now).SetProperty(p => p.DeliveredAt, now)
                  .SetProperty(p => p.DeliveryPath, DeliveryPath.Channel).SetProperty(p => p.DeliveryAttempts, 1),
            cancellationToken);
        signals.Publish(BrokerSignals.Prompt(promptId.ToString()));
    }

    public static async Task ReplyAsync(TestDatabase database, BrokerSignals signals, Guid promptId, string text, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        await using var db = database.CreateContext();
        var prompt = await db.Prompts.SingleAsync(p => p.Id == promptId, cancellationToken);
        prompt.Status = PromptStatus.Replied;
        prompt.SentAt ??= now;
        prompt.DeliveredAt ??= now;
        prompt.SeenAt ??= now;
        prompt.RepliedAt = now;
        db.Replies.Add(new Reply { Id = Guid.NewGuid(), PromptId = promptId, RelaySessionId = prompt.RelaySessionId, Text = text, Source = ReplySource.ReplyTool, CreatedAt = now });
        await db.SaveChangesAsync(cancellationToken);
        signals.Publish(BrokerSignals.Prompt(promptId.ToString()));
    }
}
