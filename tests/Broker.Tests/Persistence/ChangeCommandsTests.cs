using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

/// <summary>ChangeCommands renders a context's inserts and updates as SaveChanges would write them, or declines.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeCommandsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task TryRender_UpdatedPromptAndSessionAndAddedReply_WritesWhatSaveChangesWould()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ChangeCommandsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var promptId = await AddPromptAsync(database, session, timeout.Token);
        var replyId = Guid.NewGuid();
        var at = new DateTimeOffset(2026, 11, 21, 10, 30, 0, TimeSpan.Zero).AddTicks(1230);
        await using (var db = database.CreateContext())
        {
            var prompt = await db.Prompts.SingleAsync(p => p.Id == promptId, timeout.Token);
            prompt.Status = PromptStatus.Replied;
            prompt.DeliveryPath = DeliveryPath.HookStopBlock;
            prompt.RepliedAt = at;
            prompt.FailureReason = null;
            var tracked = await db.Sessions.SingleAsync(s => s.Id == session.Id, timeout.Token);
            tracked.LastActivityAt = at;
            tracked.Status = SessionStatus.WaitingForInput;
            db.Replies.Add(new Reply { Id = replyId, PromptId = promptId, RelaySessionId = session.Id, Text = "it's done", Source = ReplySource.ReplyTool, CreatedAt = at });

            var commands = ChangeCommands.TryRender(db);

            commands.Should().HaveCount(3);
            await RunAsync(db, commands!, timeout.Token);
            ChangeCommands.Accept(db);
            db.ChangeTracker.Entries().Should().OnlyContain(e => e.State == EntityState.Unchanged);
        }

        await using var check = database.CreateContext();
        var stored = await check.Prompts.AsNoTracking().SingleAsync(p => p.Id == promptId, timeout.Token);
        stored.Status.Should().Be(PromptStatus.Replied);
        stored.DeliveryPath.Should().Be(DeliveryPath.HookStopBlock);
        stored.RepliedAt.Should().Be(at.AddTicks(-(at.Ticks % 10)), "PostgreSQL keeps microseconds");
        stored.Text.Should().Be("review the parser", "what was not changed is not written");
        var storedSession = await check.Sessions.AsNoTracking().SingleAsync(s => s.Id == session.Id, timeout.Token);
        storedSession.Status.Should().Be(SessionStatus.WaitingForInput);
        storedSession.LastActivityAt.Should().Be(at.AddTicks(-(at.Ticks % 10)));
        var reply = await check.Replies.AsNoTracking().SingleAsync(r => r.Id == replyId, timeout.Token);
        reply.Should().BeEquivalentTo(new Reply { Id = replyId, PromptId = promptId, RelaySessionId = session.Id, Text = "it's done", Source = ReplySource.ReplyTool, CreatedAt = at },
            o => o.Excluding(r => r.CreatedAt).Excluding(r => r.SearchVector));
        reply.SearchVector.Should().NotBeNull("the store generates it from the text");
    }

    [Fact]
    public async Task TryRender_RowChangedSinceItWasRead_ConflictStopsTheRoundTripBeforeCommit()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ChangeCommandsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var promptId = await AddPromptAsync(database, session, timeout.Token);
        await using var db = database.CreateContext();
        var prompt = await db.Prompts.SingleAsync(p => p.Id == promptId, timeout.Token);
        await database.ExecuteAsync($"UPDATE prompts SET delivery_attempts = 7 WHERE id = '{promptId}'", timeout.Token);
        prompt.Status = PromptStatus.Delivered;
        var commands = ChangeCommands.TryRender(db)!;

        await db.Database.OpenConnectionAsync(timeout.Token);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var transaction = await connection.BeginTransactionAsync(timeout.Token);
        var run = () => RunAsync(connection, transaction, [.. commands, new NpgsqlBatchCommand("COMMIT")], timeout.Token);

        var error = (await run.Should().ThrowAsync<PostgresException>()).Which;
        ChangeCommands.Conflict(error, commands).Should().BeOfType<DbUpdateConcurrencyException>("SaveChanges would have thrown that for a stale row version ({0}; {1})", error.Message, error.BatchCommand?.CommandText);
        ChangeCommands.Conflict(error, []).Should().BeNull("only the rendered updates' failures are conflicts");
        (await database.ScalarAsync<string>($"SELECT status FROM prompts WHERE id = '{promptId}'", timeout.Token)).Should().Be("queued", "nothing was committed");
    }

    [Fact]
    public async Task TryRender_InsertBreaksAUniqueKeyWithGeneratedKeysUnread_ReportedAsSaveChangesWouldAndKeysLeftToTheStore()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ChangeCommandsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var taken = await AddPromptAsync(database, session, timeout.Token);
        await using var db = database.CreateContext();
        db.Outbox.Add(new OutboxMessage { MachineId = session.MachineId, Kind = OutboxKind.Prompt, RefId = taken, CreatedAt = Seed.Now, Payload = [1, 2] });
        var outbox = ChangeCommands.TryRender(db, generatedKeysUnread: true);
        outbox.Should().ContainSingle("the store numbers the outbox row, and this caller never reads its id");
        await RunAsync(db, outbox!, timeout.Token);
        ChangeCommands.Accept(db);
        db.ChangeTracker.Entries().Should().BeEmpty("an entity whose key was never read back is not tracked as saved");
        (await database.ScalarAsync<long>($"SELECT count(*) FROM agent_outbox WHERE ref_id = '{taken}'", timeout.Token)).Should().Be(1);

        db.Prompts.Add(NewPrompt(taken, session));
        var duplicate = ChangeCommands.TryRender(db)!;
        var run = () => RunAsync(db, duplicate, timeout.Token);

        var error = (await run.Should().ThrowAsync<PostgresException>()).Which;
        ChangeCommands.Translate(error, duplicate).Should().BeOfType<DbUpdateException>()
            .Which.InnerException.Should().BeSameAs(error, "callers that catch a unique violation from SaveChanges look at the inner PostgresException");
        ChangeCommands.Translate(error, []).Should().BeNull();
    }

    [Fact]
    public async Task TryRender_ADeleteOrAGeneratedKeyOrAnInsertNamingAnother_LeftToSaveChanges()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ChangeCommandsTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);
        var promptId = await AddPromptAsync(database, session, timeout.Token);

        await using (var db = database.CreateContext())
        {
            db.Prompts.Remove(await db.Prompts.SingleAsync(p => p.Id == promptId, timeout.Token));
            ChangeCommands.TryRender(db).Should().BeNull("a delete is left to SaveChanges");
        }

        await using (var db = database.CreateContext())
        {
            db.Outbox.Add(new OutboxMessage { MachineId = session.MachineId, Kind = OutboxKind.Prompt, RefId = promptId, CreatedAt = Seed.Now, Payload = [] });
            ChangeCommands.TryRender(db).Should().BeNull("the store generates the outbox row's id, which EF reads back");
        }

        await using (var db = database.CreateContext())
        {
            var first = Guid.NewGuid();
            db.Prompts.Add(NewPrompt(first, session));
            db.Replies.Add(new Reply { Id = Guid.NewGuid(), PromptId = first, RelaySessionId = session.Id, Text = "x", CreatedAt = Seed.Now });
            ChangeCommands.TryRender(db).Should().BeNull("the reply names a prompt inserted with it, and EF orders such inserts");
        }

        await using (var db = database.CreateContext())
        {
            ChangeCommands.TryRender(db).Should().BeEmpty("nothing to write");
        }
    }

    private static Task RunAsync(RelayDbContext db, IReadOnlyList<NpgsqlBatchCommand> commands, CancellationToken cancellationToken) =>
        RunAsync((NpgsqlConnection)db.Database.GetDbConnection(), null, commands, cancellationToken);

    private static async Task RunAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<NpgsqlBatchCommand> commands, CancellationToken cancellationToken)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            await connection.OpenAsync(cancellationToken);
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in commands)
        {
            batch.BatchCommands.Add(command);
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.NextResultAsync(cancellationToken))
        {
        }
    }

    private static Prompt NewPrompt(Guid id, RelaySession session) => new()
    {
        Id = id, IdempotencyKey = id.ToString("D"), RelaySessionId = session.Id, SenderKind = SenderKind.Person, SenderId = "alice",
        Text = "review the parser", Status = PromptStatus.Queued, CreatedAt = Seed.Now, ExpiresAt = Seed.Now.AddHours(1),
    };

    private static async Task<Guid> AddPromptAsync(TestDatabase database, RelaySession session, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        db.Prompts.Add(NewPrompt(id, session));
        await db.SaveChangesAsync(cancellationToken);
        return id;
    }
}
