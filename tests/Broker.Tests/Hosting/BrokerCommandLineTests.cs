using System.CommandLine;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Hosting;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Hosting;

/// <summary><c>relay-broker migrate|run</c>, invoked in-process through the real command line.</summary>
[Collection(PostgresCollection.Name)]
public sealed class BrokerCommandLineTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Migrate_EmptyDatabase_AppliesEveryMigrationAndExitsZero()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: false, timeout.Token);
        using var directory = new TempDirectory("relay-migrate-");
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await BrokerCommandLine.BuildRootCommand()
            .Parse(["migrate", "--database", database.ConnectionString, "--data-dir", directory.Path])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, timeout.Token);

        code.Should().Be(0, error.ToString());
        error.ToString().Should().BeEmpty();
        output.ToString().Should().Contain("migrations applied");
        await using var db = database.CreateContext();
        (await db.Database.GetPendingMigrationsAsync(timeout.Token)).Should().BeEmpty();
        (await db.Database.GetAppliedMigrationsAsync(timeout.Token)).Should().Equal(db.Database.GetMigrations());
        (await database.ScalarAsync<long>("SELECT count(*) FROM information_schema.tables WHERE table_name = 'sessions'", timeout.Token)).Should().Be(1);
    }

    [Fact]
    public async Task Run_TlsCertificateFileMissing_OneClearStderrLineAndExitCodeOne()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<BrokerCommandLineTests>();
        using var directory = new TempDirectory("relay-run-");
        var missing = Path.Combine(directory.Path, "no-such-cert.pem");
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await BrokerCommandLine.BuildRootCommand()
            .Parse(["run", "--listen", "127.0.0.1:0", "--database", database.ConnectionString, "--data-dir", directory.Path, "--tls-cert", missing])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, timeout.Token);

        code.Should().Be(1);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle().Which.Should().StartWith("relay-broker: ").And.Contain("--tls-cert").And.Contain(missing).And.Contain("does not exist");
    }
}
