using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class MigrationTests(PostgresFixture postgres)
{
    private static readonly string[] Tables =
    [
        "agent_link_state", "agent_outbox", "api_tokens", "approvals", "audit_log", "briefings", "enrolment_tokens", "events", "launches",
        "machine_credentials", "machines", "policy", "prompts", "replies", "session_segments", "sessions", "stop_requests",
    ];

    [Fact]
    public async Task MigrateAsync_EmptyDatabase_CreatesEverySnakeCaseTable()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: false, timeout.Token);
        await using var db = database.CreateContext();

        await db.MigrateAsync(NullLogger.Instance, timeout.Token);

        (await db.Database.GetAppliedMigrationsAsync(timeout.Token)).Should().ContainSingle(m => m.EndsWith("_InitialSchema", StringComparison.Ordinal));
        var tables = await db.Database
            .SqlQueryRaw<string>("SELECT table_name AS \"Value\" FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_%'")
            .ToListAsync(timeout.Token);
        tables.Should().BeEquivalentTo(Tables);
    }

    [Fact]
    public async Task MigrateAsync_AlreadyMigrated_IsANoOp()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: true, timeout.Token);
        await using var db = database.CreateContext();

        await db.MigrateAsync(NullLogger.Instance, timeout.Token);

        (await db.Database.GetPendingMigrationsAsync(timeout.Token)).Should().BeEmpty();
    }

    [Fact]
    public async Task Model_ComparedWithCommittedMigrations_HasNoPendingChanges()
    {
        var database = await postgres.DatabaseFor<MigrationTests>();
        await using var db = database.CreateContext();

        db.Database.HasPendingModelChanges().Should().BeFalse("every model change needs a migration (see Persistence/Migrations/README.md)");
    }

    [Fact]
    public async Task Model_EnumColumns_StoreSnakeCaseText()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<MigrationTests>();
        var machine = await Seed.MachineAsync(database, timeout.Token);
        var session = await Seed.SessionAsync(database, machine, timeout.Token);
        await using (var db = database.CreateContext())
        {
            var stored = await db.Sessions.SingleAsync(s => s.Id == session.Id, timeout.Token);
            stored.Status = Broker.Persistence.Entities.SessionStatus.WaitingForInput;
            await db.SaveChangesAsync(timeout.Token);
        }

        (await database.ScalarAsync<string>($"SELECT status FROM sessions WHERE id = '{session.Id}'", timeout.Token))
            .Should().Be("waiting_for_input");
    }
}
