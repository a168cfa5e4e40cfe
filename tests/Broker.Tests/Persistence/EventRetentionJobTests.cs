using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class EventRetentionJobTests(PostgresFixture postgres)
{
    [Fact]
    public async Task RunOnceAsync_EventsOlderThanRetention_DeletesThemInBatchesAndKeepsTheRest()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventRetentionJobTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var clock = new FixedTimeProvider(Seed.Now.AddDays(-10));
        var writer = new EventIngestWriter(database.DataSource, clock);
        IngestEvent Event() => new(machine.Id, Guid.NewGuid(), 1, EventKind.Hook, clock.Now, "{}");
        await writer.WriteAsync([Event(), Event(), Event(), Event(), Event()], timeout.Token);
        clock.Now = Seed.Now;
        var recent = (await writer.WriteAsync([Event()], timeout.Token)).Single().EventId;
        var job = new EventRetentionJob(
            database.DataSource,
            Options.Create(new DatabaseOptions { EventRetention = TimeSpan.FromDays(7), RetentionBatchSize = 2 }),
            clock,
            NullLogger<EventRetentionJob>.Instance);

        var deleted = await job.RunOnceAsync(timeout.Token);

        deleted.Should().Be(5);
        await using var db = database.CreateContext();
        (await db.Events.Where(e => e.MachineId == machine.Id).Select(e => e.Id).ToListAsync(timeout.Token)).Should().Equal(recent);
    }

    [Fact]
    public async Task RunOnceAsync_RetentionOff_DeletesNothing()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EventRetentionJobTests>();
        var job = new EventRetentionJob(database.DataSource, Options.Create(new DatabaseOptions()), TimeProvider.System, NullLogger<EventRetentionJob>.Instance);

        (await job.RunOnceAsync(timeout.Token)).Should().Be(0);
    }
}
