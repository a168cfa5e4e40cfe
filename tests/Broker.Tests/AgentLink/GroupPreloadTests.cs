using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.AgentLink;
using Relay.Broker.Persistence;
using Relay.Broker.Sessions;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using Db = Relay.Broker.Persistence.Entities;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>What a group reads in its first round trip for its batches' lookups by key.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupPreloadTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Attach_SessionNamedThroughTheStreamsCache_IsTrackedAsRead()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupPreloadTests>();
        var (machine, session, cache, claudeId) = await SessionAsync(database, timeout.Token);
        var batch = Batch(machine, cache, Hook(Evidence(claudeId), "Stop"));
        await using var db = database.CreateContext();

        var preload = await LoadAsync(db, [batch], timeout.Token);
        preload.Attach(Context(db, machine, cache), batch);

        preload.Count.Should().Be(0, "a preloaded session is handed to one batch only");
        var tracked = db.Sessions.Local.Should().ContainSingle().Subject;
        tracked.Id.Should().Be(session.Id);
        tracked.Status.Should().Be(SessionStatus.Working);
        db.Entry(tracked).State.Should().Be(EntityState.Unchanged);
        (await db.Sessions.FindAsync([session.Id], timeout.Token)).Should().BeSameAs(tracked, "the batch's lookup by id finds it without reading the row");
    }

    [Fact]
    public async Task Attach_SessionAnEarlierBatchTracked_IsNotHandedOutStale()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupPreloadTests>();
        var (machine, session, cache, claudeId) = await SessionAsync(database, timeout.Token);
        var batch = Batch(machine, cache, Hook(Evidence(claudeId), "Stop"));
        await using var db = database.CreateContext();
        var preload = await LoadAsync(db, [batch], timeout.Token);

        // An earlier batch of the group changes the session (as a reply changes the session that sent the prompt).
        var earlier = await db.Sessions.SingleAsync(s => s.Id == session.Id, timeout.Token);
        earlier.Status = SessionStatus.WaitingForInput;
        await db.SaveChangesAsync(timeout.Token);
        preload.Forget(db);
        db.ChangeTracker.Clear();
        preload.Attach(Context(db, machine, cache), batch);

        preload.Count.Should().Be(0);
        db.ChangeTracker.Entries().Should().BeEmpty("the copy read before the change is dropped");
        (await db.Sessions.FindAsync([session.Id], timeout.Token))!.Status.Should().Be(SessionStatus.WaitingForInput);
    }

    [Fact]
    public async Task Attach_ReceiptAndReply_TheirPromptsAndThePromptsSessionTracked()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupPreloadTests>();
        var (machine, session, cache, _) = await SessionAsync(database, timeout.Token);
        var receiptOf = await PromptAsync(database, session, timeout.Token);
        var replyTo = await PromptAsync(database, session, timeout.Token);
        // The receipt names its session by nothing the stream's cache knows: the prompt's session is read with it.
        var batch = Batch(machine, new MachineSessionCache(),
            new AgentMessage { PromptReceipt = new PromptReceipt { PromptId = receiptOf.ToString("D"), Status = PromptStatus.Delivered } },
            new AgentMessage { Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), InReplyTo = replyTo.ToString("D"), Text = "done" } });
        await using var db = database.CreateContext();

        var preload = await LoadAsync(db, [batch], timeout.Token);
        var context = Context(db, machine, cache);
        preload.Attach(context, batch);

        db.Prompts.Local.Select(p => p.Id).Should().BeEquivalentTo([receiptOf, replyTo]);
        db.Sessions.Local.Should().ContainSingle().Which.Id.Should().Be(session.Id);
        db.ChangeTracker.Entries().Should().OnlyContain(e => e.State == EntityState.Unchanged);
        context.StoredReplies.Should().BeEmpty("the reply is not stored yet, and the handler need not look it up");
    }

    [Fact]
    public async Task Attach_ReplyStoredOrNamedByAnEarlierBatch_StoredOrLookedUpAgain()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupPreloadTests>();
        var (machine, session, cache, claudeId) = await SessionAsync(database, timeout.Token);
        var stored = Guid.NewGuid();
        await using (var seed = database.CreateContext())
        {
            seed.Replies.Add(new Db.Reply { Id = stored, RelaySessionId = session.Id, Text = "earlier", CreatedAt = Seed.Now });
            await seed.SaveChangesAsync(timeout.Token);
        }

        var reply = new AgentMessage { Reply = new SessionReply { ReplyId = stored.ToString("D"), Text = "again", Session = Evidence(claudeId) } };
        var first = Batch(machine, cache, reply);
        var second = Batch(machine, cache, reply);
        await using var db = database.CreateContext();
        var preload = await LoadAsync(db, [first, second], timeout.Token);

        var one = Context(db, machine, cache);
        preload.Attach(one, first);
        var two = Context(db, machine, cache);
        preload.Attach(two, second);

        one.StoredReplies.Should().Equal([stored], "a retransmitted reply is known to be stored without a lookup");
        two.StoredReplies.Should().BeNull("the first batch may have stored or rolled back the same reply: looked up again");
    }

    [Fact]
    public async Task AddTo_SessionsNamedAndThoseOfPrompts_FoundThroughThePrimaryKeyNotByScanningEverySession()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<GroupPreloadTests>();
        var (machine, session, cache, claudeId) = await SessionAsync(database, timeout.Token);
        var promptId = await PromptAsync(database, session, timeout.Token);
        var batch = Batch(machine, cache, Hook(Evidence(claudeId), "Stop"),
            new AgentMessage { PromptReceipt = new PromptReceipt { PromptId = promptId.ToString("D"), Status = PromptStatus.Delivered } });
        await using var db = database.CreateContext();
        await using var commands = new NpgsqlBatch();
        GroupPreload.For([batch]).AddTo(commands, db);
        var sessions = commands.BatchCommands.Cast<NpgsqlBatchCommand>().Single(c => c.CommandText.Contains("FROM \"sessions\"", StringComparison.Ordinal));

        // Sessions are never deleted: a plan that reads every one of them would grow with the deployment's age.
        await db.Database.OpenConnectionAsync(timeout.Token);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using (var off = new NpgsqlCommand("SET enable_seqscan = off", connection))
        {
            await off.ExecuteNonQueryAsync(timeout.Token);
        }

        await using var explain = new NpgsqlCommand("EXPLAIN " + sessions.CommandText, connection);
        foreach (NpgsqlParameter parameter in sessions.Parameters)
        {
            explain.Parameters.Add(new NpgsqlParameter { Value = parameter.Value });
        }

        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(timeout.Token))
        {
            while (await reader.ReadAsync(timeout.Token))
            {
                plan.Add(reader.GetString(0));
            }
        }

        plan.Should().NotContain(line => line.Contains("Seq Scan on sessions"), "the sessions are looked up by id: {0}", string.Join("\n", plan));
    }

    /// <summary>Runs the preload's lookups as the group's first round trip does: after a statement of its own.</summary>
    private static async Task<GroupPreload> LoadAsync(RelayDbContext db, InboundBatch[] batches, CancellationToken cancellationToken)
    {
        var preload = GroupPreload.For(batches);
        await db.Database.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection()) { BatchCommands = { new NpgsqlBatchCommand("SELECT 1") } };
        preload.AddTo(batch, db);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await preload.ReadAsync(reader, db, cancellationToken);
        return preload;
    }

    private static IngestContext Context(RelayDbContext db, Db.Machine machine, MachineSessionCache cache) =>
        new(db, new MachineIdentity(machine.Id, machine.Name), cache, Seed.Now);

    private static InboundBatch Batch(Db.Machine machine, MachineSessionCache cache, params AgentMessage[] messages) =>
        new(new MachineIdentity(machine.Id, machine.Name), Guid.NewGuid(), cache, messages.Select(m => new InboundItem(m)).ToList(), AckedBrokerSeq: null, RejectAll: null);

    private static async Task<(Db.Machine Machine, Db.RelaySession Session, MachineSessionCache Cache, Guid ClaudeId)> SessionAsync(
        TestDatabase database, CancellationToken cancellationToken)
    {
        var machine = await Seed.MachineAsync(database, cancellationToken);
        var session = await Seed.SessionAsync(database, machine, cancellationToken);
        var claudeId = Guid.NewGuid();
        var cache = new MachineSessionCache();
        cache.Remember(claudeId, session.Id);
        return (machine, session, cache, claudeId);
    }

    private static async Task<Guid> PromptAsync(TestDatabase database, Db.RelaySession session, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        db.Prompts.Add(new Db.Prompt
        {
            Id = id, IdempotencyKey = id.ToString("D"), RelaySessionId = session.Id, SenderKind = Db.SenderKind.Person, SenderId = "alice",
            Text = "review it", Status = Db.PromptStatus.Sent, CreatedAt = Seed.Now, ExpiresAt = Seed.Now.AddHours(1),
        });
        await db.SaveChangesAsync(cancellationToken);
        return id;
    }
}
