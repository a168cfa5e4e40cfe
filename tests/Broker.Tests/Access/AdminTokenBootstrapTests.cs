using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Access;

[Collection(PostgresCollection.Name)]
public sealed class AdminTokenBootstrapTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Start_EmptyDatabase_WritesAdminTokenFileOwnerOnly_LogsPathNotToken()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        using var directory = new TempDirectory("relay-bootstrap-");
        var dataDirectory = Path.Combine(directory.Path, "broker");
        var logs = new CapturingLoggerProvider();

        await using var broker = await StartAsync(database, dataDirectory, logs);

        var path = Path.Combine(dataDirectory, "admin.token");
        File.GetUnixFileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(dataDirectory).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var secret = (await File.ReadAllTextAsync(path)).Trim();
        secret.Should().StartWith("relay_pat_").And.HaveLength("relay_pat_".Length + 43);
        logs.Messages.Should().Contain(m => m.Contains(path) && m.Contains("admin token"));
        logs.Messages.Should().NotContain(m => m.Contains(secret));

        var info = await broker.Admin(secret).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);
        info.CallerRole.Should().Be(Role.Admin);
        info.Caller.DisplayName.Should().Be("admin");
    }

    [Fact]
    public async Task Start_EmptyDatabase_StoresOnlyTheHash()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        using var directory = new TempDirectory("relay-bootstrap-");
        await using var broker = await StartAsync(database, directory.Path);
        var secret = (await File.ReadAllTextAsync(Path.Combine(directory.Path, "admin.token"))).Trim();

        await using var db = database.CreateContext();
        var token = await db.ApiTokens.SingleAsync();
        token.TokenHash.Should().Equal(TokenHash.Compute(secret));
        token.CreatedBy.Should().Be("system");
        var everything = await database.ScalarAsync<string>(
            "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(a)::text AS t FROM api_tokens a UNION ALL SELECT row_to_json(l)::text FROM audit_log l) rows");
        everything.Should().NotContain(secret["relay_pat_".Length..]);
    }

    [Fact]
    public async Task Restart_TokensExist_KeepsFileAndCreatesNoSecondToken()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        using var directory = new TempDirectory("relay-bootstrap-");
        var path = Path.Combine(directory.Path, "admin.token");
        await using (await StartAsync(database, directory.Path))
        {
        }

        var first = await File.ReadAllTextAsync(path);
        await using (await StartAsync(database, directory.Path))
        {
        }

        (await File.ReadAllTextAsync(path)).Should().Be(first);
        (await database.ScalarAsync<long>("SELECT count(*) FROM api_tokens")).Should().Be(1);
    }

    private static Task<TestBroker> StartAsync(TestDatabase database, string dataDirectory, CapturingLoggerProvider? logs = null) =>
        TestBroker.StartAsync(
            database,
            new Dictionary<string, string?> { ["Broker:DataDirectory"] = dataDirectory },
            builder =>
            {
                if (logs is not null)
                {
                    builder.Logging.AddProvider(logs).AddFilter<CapturingLoggerProvider>(category: null, level: LogLevel.Trace);
                }
            });
}
