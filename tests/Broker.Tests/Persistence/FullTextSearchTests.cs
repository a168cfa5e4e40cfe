using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class FullTextSearchTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Prompts_SearchByWordInAnotherForm_FindsThePrompt()
    {
        using var timeout = TestTimeout.Start();
        var (database, session) = await SetUpAsync(timeout.Token);
        await using (var db = database.CreateContext())
        {
            db.Prompts.AddRange(Prompt(session, "Please deploy the staging cluster"), Prompt(session, "Run the unit tests"));
            await db.SaveChangesAsync(timeout.Token);
        }

        await using var query = database.CreateContext();
        var found = await query.Prompts
            .Where(p => p.RelaySessionId == session.Id && p.SearchVector!.Matches(EF.Functions.WebSearchToTsQuery("english", "deploying")))
            .Select(p => p.Text)
            .ToListAsync(timeout.Token);

        found.Should().Equal("Please deploy the staging cluster");
    }

    [Fact]
    public async Task Replies_SearchByWord_FindsTheReply()
    {
        using var timeout = TestTimeout.Start();
        var (database, session) = await SetUpAsync(timeout.Token);
        await using (var db = database.CreateContext())
        {
            db.Replies.AddRange(
                new Reply { Id = Guid.NewGuid(), RelaySessionId = session.Id, Text = "Deployment finished without errors", CreatedAt = Seed.Now },
                new Reply { Id = Guid.NewGuid(), RelaySessionId = session.Id, Text = "All tests pass", CreatedAt = Seed.Now });
            await db.SaveChangesAsync(timeout.Token);
        }

        await using var query = database.CreateContext();
        var found = await query.Replies
            .Where(r => r.RelaySessionId == session.Id && r.SearchVector!.Matches(EF.Functions.WebSearchToTsQuery("english", "deploy")))
            .Select(r => r.Text)
            .ToListAsync(timeout.Token);

        found.Should().Equal("Deployment finished without errors");
    }

    private async Task<(TestDatabase Database, RelaySession Session)> SetUpAsync(CancellationToken cancellationToken)
    {
        var database = await postgres.DatabaseFor<FullTextSearchTests>();
        var machine = await Seed.MachineAsync(database, cancellationToken);
        return (database, await Seed.SessionAsync(database, machine, cancellationToken));
    }

    private static Prompt Prompt(RelaySession session, string text) => new()
    {
        Id = Guid.NewGuid(),
        IdempotencyKey = Guid.NewGuid().ToString(),
        RelaySessionId = session.Id,
        SenderKind = SenderKind.Person,
        SenderId = "alice",
        Text = text,
        Status = PromptStatus.Queued,
        CreatedAt = Seed.Now,
        ExpiresAt = Seed.Now.AddHours(1),
    };
}
