using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class ConstraintTests(PostgresFixture postgres)
{
    [Fact]
    public async Task SessionSegments_ClaudeSessionIdInTwoRelaySessions_IsRejected()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var one = await Seed.SessionAsync(database, machine, timeout.Token);
        var two = await Seed.SessionAsync(database, machine, timeout.Token);
        var claudeId = Guid.NewGuid();
        await AddAsync(database, new SessionSegment { ClaudeSessionId = claudeId, RelaySessionId = one.Id, Source = SegmentSource.Startup, StartedAt = Seed.Now }, timeout.Token);

        var again = () => AddAsync(database, new SessionSegment { ClaudeSessionId = claudeId, RelaySessionId = two.Id, Source = SegmentSource.Resume, Ordinal = 1, StartedAt = Seed.Now }, timeout.Token);

        await ShouldViolateAsync(again, PostgresErrorCodes.UniqueViolation);
    }

    [Fact]
    public async Task SessionSegments_TwoSegmentsWithSameOrdinal_AreRejected()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var session = await Seed.SessionAsync(database, machine, timeout.Token);
        await AddAsync(database, new SessionSegment { ClaudeSessionId = Guid.NewGuid(), RelaySessionId = session.Id, Source = SegmentSource.Startup, StartedAt = Seed.Now }, timeout.Token);

        var again = () => AddAsync(database, new SessionSegment { ClaudeSessionId = Guid.NewGuid(), RelaySessionId = session.Id, Source = SegmentSource.Clear, StartedAt = Seed.Now }, timeout.Token);

        await ShouldViolateAsync(again, PostgresErrorCodes.UniqueViolation);
    }

    [Fact]
    public async Task ApiTokens_SameTokenHashTwice_IsRejected()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var raw = TokenHash.NewToken("relay_pat_");
        await AddAsync(database, Seed.ApiToken(raw), timeout.Token);

        var again = () => AddAsync(database, Seed.ApiToken(raw), timeout.Token);

        await ShouldViolateAsync(again, PostgresErrorCodes.UniqueViolation);
    }

    [Fact]
    public async Task MachineCredentials_HashThatIsNotSha256_IsRejected()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);

        var add = () => AddAsync(database, new MachineCredential { Id = Guid.NewGuid(), MachineId = machine.Id, TokenHash = new byte[16], CreatedAt = Seed.Now }, timeout.Token);

        await ShouldViolateAsync(add, PostgresErrorCodes.CheckViolation);
    }

    [Fact]
    public async Task Prompts_SameIdempotencyKeyFromSameSender_IsRejectedButOtherSenderMayReuseIt()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var session = await Seed.SessionAsync(database, machine, timeout.Token);
        Prompt PromptFrom(string sender) => new()
        {
            Id = Guid.NewGuid(), IdempotencyKey = "key-1", RelaySessionId = session.Id, SenderKind = SenderKind.Person,
            SenderId = sender, Text = "hello", Status = PromptStatus.Queued, CreatedAt = Seed.Now, ExpiresAt = Seed.Now.AddHours(1),
        };
        await AddAsync(database, PromptFrom("alice"), timeout.Token);
        await AddAsync(database, PromptFrom("bob"), timeout.Token);

        var retry = () => AddAsync(database, PromptFrom("alice"), timeout.Token);

        await ShouldViolateAsync(retry, PostgresErrorCodes.UniqueViolation);
    }

    [Fact]
    public async Task Approvals_ConcurrentDecisions_SecondOneFailsOnRowVersion()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<ConstraintTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var session = await Seed.SessionAsync(database, machine, timeout.Token);
        var approval = new Approval
        {
            Id = Guid.NewGuid(), RelaySessionId = session.Id, RequestId = "abcde", ToolName = "Bash",
            Status = ApprovalStatus.Pending, CreatedAt = Seed.Now, ExpiresAt = Seed.Now.AddMinutes(5),
        };
        await AddAsync(database, approval, timeout.Token);
        await using var alice = database.CreateContext();
        await using var bob = database.CreateContext();
        var seenByAlice = await alice.Approvals.SingleAsync(a => a.Id == approval.Id, timeout.Token);
        var seenByBob = await bob.Approvals.SingleAsync(a => a.Id == approval.Id, timeout.Token);

        seenByAlice.Status = ApprovalStatus.Allowed;
        await alice.SaveChangesAsync(timeout.Token);
        seenByBob.Status = ApprovalStatus.Denied;
        var bobSaves = () => bob.SaveChangesAsync(timeout.Token);

        await bobSaves.Should().ThrowAsync<DbUpdateConcurrencyException>();
    }

    private static async Task AddAsync<T>(TestDatabase database, T entity, CancellationToken cancellationToken)
        where T : class
    {
        await using var db = database.CreateContext();
        db.Add(entity);
        await db.SaveChangesAsync(cancellationToken);
    }

    private static async Task ShouldViolateAsync(Func<Task> action, string sqlState) =>
        (await action.Should().ThrowAsync<DbUpdateException>())
            .WithInnerException<PostgresException>()
            .Which.SqlState.Should().Be(sqlState);
}
