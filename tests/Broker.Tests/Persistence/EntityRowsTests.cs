using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

/// <summary>EntityRows reads an entity's row from a reader of its own exactly as EF reads it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EntityRowsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Read_PromptWithEveryColumnSet_SameAsEfReadsIt()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EntityRowsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var earlier = await AddPromptAsync(database, session, p => { }, timeout.Token);
        var full = await AddPromptAsync(database, session, p =>
        {
            p.SenderName = "alice";
            p.Status = PromptStatus.Failed;
            p.DeliveryPath = DeliveryPath.HookStopBlock;
            p.SentAt = Seed.Now.AddSeconds(1);
            p.DeliveredAt = Seed.Now.AddSeconds(2);
            p.SeenAt = Seed.Now.AddSeconds(3);
            p.RepliedAt = Seed.Now.AddSeconds(4);
            p.ExpiredAt = Seed.Now.AddSeconds(5);
            p.FailedAt = Seed.Now.AddTicks(6_000_010);
            p.FailureReason = "gone";
            p.DeliveredToClaudeSessionId = Guid.NewGuid();
            p.DeliveryAttempts = 3;
            p.InReplyTo = earlier.Id;
        }, timeout.Token);

        foreach (var id in new[] { earlier.Id, full.Id })
        {
            await using var db = database.CreateContext();
            var expected = await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == id, timeout.Token);
            var read = await ReadAsync<Prompt>(db, id, timeout.Token);
            read.Should().BeEquivalentTo(expected, o => o.Excluding(p => p.SearchVector));
            read.SearchVector!.ToString().Should().Be(expected.SearchVector!.ToString());
            read.Version.Should().NotBe(0u, "the row version is the update's concurrency token");
        }
    }

    [Fact]
    public async Task Read_SessionWithEveryColumnSet_SameAsEfReadsIt()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EntityRowsTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var bare = await Seed.SessionAsync(database, machine, timeout.Token);
        var full = new RelaySession
        {
            Id = Guid.NewGuid(), MachineId = machine.Id, Name = "reviewer", Cwd = "/home/dev/app", ProjectDir = "/home/dev", LaunchId = Guid.NewGuid(),
            ClaudePid = 4242, ClaudeStartedAt = Seed.Now, Status = SessionStatus.Ended, ChannelAttached = true, ChannelId = "chan-1",
            PermissionMode = "plan", Model = "opus", TmuxTarget = "dev:1.0", LastActivityAt = Seed.Now.AddMinutes(1), CreatedAt = Seed.Now,
            UpdatedAt = Seed.Now.AddMinutes(2), EndedAt = Seed.Now.AddMinutes(3), EndReason = "logout",
        };
        await using (var db = database.CreateContext())
        {
            db.Sessions.Add(full);
            await db.SaveChangesAsync(timeout.Token);
        }

        foreach (var id in new[] { bare.Id, full.Id })
        {
            await using var db = database.CreateContext();
            var expected = await db.Sessions.AsNoTracking().SingleAsync(s => s.Id == id, timeout.Token);
            (await ReadAsync<RelaySession>(db, id, timeout.Token)).Should().BeEquivalentTo(expected);
        }
    }

    [Fact]
    public async Task Read_AttachedAndChanged_SavesOnlyTheChangeUnderItsRowVersion()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<EntityRowsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var prompt = await AddPromptAsync(database, session, p => { }, timeout.Token);
        await using var db = database.CreateContext();
        var read = await ReadAsync<Prompt>(db, prompt.Id, timeout.Token);
        db.Prompts.Attach(read);

        (await db.Prompts.FindAsync([prompt.Id], timeout.Token)).Should().BeSameAs(read, "a lookup by key finds the attached row");
        read.Status = PromptStatus.Delivered;
        db.Entry(read).Properties.Where(p => p.IsModified).Select(p => p.Metadata.Name).Should().Equal(nameof(Prompt.Status));
        await db.SaveChangesAsync(timeout.Token);
        await database.ExecuteAsync($"UPDATE prompts SET delivery_attempts = 9 WHERE id = '{prompt.Id}'", timeout.Token);
        read.Status = PromptStatus.Seen;

        var stale = () => db.SaveChangesAsync(timeout.Token);
        await stale.Should().ThrowAsync<DbUpdateConcurrencyException>("the row changed since it was read, so the update must not overwrite it");
    }

    private static async Task<T> ReadAsync<T>(RelayDbContext db, Guid id, CancellationToken cancellationToken)
        where T : class
    {
        var rows = EntityRows<T>.For(db.Model);
        await db.Database.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(rows.Select + " WHERE t.id = $1", (NpgsqlConnection)db.Database.GetDbConnection())
        {
            Parameters = { new NpgsqlParameter<Guid> { TypedValue = id } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        (await reader.ReadAsync(cancellationToken)).Should().BeTrue();
        return rows.Read(reader);
    }

    private static async Task<Prompt> AddPromptAsync(TestDatabase database, RelaySession session, Action<Prompt> configure, CancellationToken cancellationToken)
    {
        var prompt = new Prompt
        {
            Id = Guid.NewGuid(), IdempotencyKey = Guid.NewGuid().ToString("D"), RelaySessionId = session.Id, SenderKind = SenderKind.Person,
            SenderId = Guid.NewGuid().ToString("D"), Text = "review the parser", Status = PromptStatus.Queued, CreatedAt = Seed.Now,
            ExpiresAt = Seed.Now.AddHours(1),
        };
        configure(prompt);
        await using var db = database.CreateContext();
        db.Prompts.Add(prompt);
        await db.SaveChangesAsync(cancellationToken);
        return prompt;
    }
}
