using Microsoft.EntityFrameworkCore;
using Relay.Broker.AgentLink;
using Relay.Broker.Sessions;
using Relay.Broker.Tests.Infrastructure;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>The sessions a group reads at its start for its batches' session lookups.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupSessionsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Attach_SessionNamedThroughTheStreamsCache_IsTrackedAsRead()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupSessionsTests>();
        var (batch, sessionId) = await BatchNamingASessionAsync(database, timeout.Token);
        await using var db = database.CreateContext();

        var preload = await GroupSessions.LoadAsync(db, [batch], timeout.Token);
        preload.Attach(db, batch);

        preload.Count.Should().Be(0, "a preloaded session is handed to one batch only");
        var tracked = db.Sessions.Local.Should().ContainSingle().Subject;
        tracked.Id.Should().Be(sessionId);
        tracked.Status.Should().Be(SessionStatus.Working);
        db.Entry(tracked).State.Should().Be(EntityState.Unchanged);
        (await db.Sessions.FindAsync([sessionId], timeout.Token)).Should().BeSameAs(tracked, "the batch's lookup by id finds it without reading the row");
    }

    [Fact]
    public async Task Attach_SessionAnEarlierBatchTracked_IsNotHandedOutStale()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupSessionsTests>();
        var (batch, sessionId) = await BatchNamingASessionAsync(database, timeout.Token);
        await using var db = database.CreateContext();
        var preload = await GroupSessions.LoadAsync(db, [batch], timeout.Token);

        // An earlier batch of the group changes the session (as a reply changes the session that sent the prompt).
        var earlier = await db.Sessions.SingleAsync(s => s.Id == sessionId, timeout.Token);
        earlier.Status = SessionStatus.WaitingForInput;
        await db.SaveChangesAsync(timeout.Token);
        preload.Forget(db);
        db.ChangeTracker.Clear();
        preload.Attach(db, batch);

        preload.Count.Should().Be(0);
        db.ChangeTracker.Entries().Should().BeEmpty("the copy read before the change is dropped");
        (await db.Sessions.FindAsync([sessionId], timeout.Token))!.Status.Should().Be(SessionStatus.WaitingForInput);
    }

    private static async Task<(InboundBatch Batch, Guid SessionId)> BatchNamingASessionAsync(TestDatabase database, CancellationToken cancellationToken)
    {
        var machine = await Seed.MachineAsync(database, cancellationToken);
        var session = await Seed.SessionAsync(database, machine, cancellationToken);
        var claudeId = Guid.NewGuid();
        var cache = new MachineSessionCache();
        cache.Remember(claudeId, session.Id);
        var batch = new InboundBatch(
            new MachineIdentity(machine.Id, machine.Name), Guid.NewGuid(), cache, [new InboundItem(Hook(Evidence(claudeId), "Stop"))], AckedBrokerSeq: null, RejectAll: null);
        return (batch, session.Id);
    }
}
