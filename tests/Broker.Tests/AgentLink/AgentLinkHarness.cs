using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>Small shared steps of the AgentLink, sessions and delivery tests.</summary>
internal static class AgentLinkHarness
{
    public static async Task<List<RelaySession>> SessionsOfAsync(TestDatabase database, Guid machineId, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        return await db.Sessions.AsNoTracking().Where(s => s.MachineId == machineId).OrderBy(s => s.CreatedAt).ToListAsync(cancellationToken);
    }

    public static async Task<List<SessionSegment>> LineageAsync(TestDatabase database, Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        return await db.SessionSegments.AsNoTracking().Where(s => s.RelaySessionId == sessionId).OrderBy(s => s.Ordinal).ToListAsync(cancellationToken);
    }

    public static async Task<List<EventRecord>> EventsOfAsync(TestDatabase database, Guid machineId, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        return await db.Events.AsNoTracking().Where(e => e.MachineId == machineId).OrderBy(e => e.Id).ToListAsync(cancellationToken);
    }

    /// <summary>Tells the broker that work was queued for the machine (what the Admin side does after writing rows).</summary>
    public static void Notify(TestBroker broker, Guid machineId) =>
        broker.Services.GetRequiredService<BrokerSignals>().Publish(BrokerSignals.MachineOutbound(machineId.ToString("D")));

    /// <summary>Sends <paramref name="messages"/> and waits until the broker committed (acked) the last.</summary>
    public static async Task SendAndCommitAsync(SimulatedAgent agent, CancellationToken cancellationToken, params Protocol.V1.AgentMessage[] messages)
    {
        ulong last = 0;
        foreach (var message in messages)
        {
            last = await agent.SendAsync(message, cancellationToken);
        }

        await agent.WaitForAckAsync(last, cancellationToken);
    }
}
