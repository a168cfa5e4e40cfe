using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Hosting;

/// <summary>The real broker with no connection string: its embedded PostgreSQL under the data directory, kept across restarts.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EmbeddedBrokerTests
{
    [Fact]
    public async Task Run_EmbeddedDatabase_TokenCreatedBeforeRestartIsFoundAfterItAndAdminTokenIsOwnerOnly()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("relay-embedded-broker-");
        var tokenFile = Path.Combine(directory.Path, "admin.token");
        string adminSecret;
        CreateTokenResponse created;
        await using (var first = await TestBroker.StartEmbeddedAsync(directory.Path, timeout.Token))
        {
            adminSecret = (await File.ReadAllTextAsync(tokenFile, timeout.Token)).Trim();
            created = await first.Admin(adminSecret).CreateTokenAsync(
                new CreateTokenRequest { Name = "ci-bot", Role = Role.Operator }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
            await first.StopAsync(timeout.Token);
        }

        File.Exists(Path.Combine(directory.Path, "postgres", "data", "PG_VERSION")).Should().BeTrue("the cluster lives under <data-dir>/postgres");
        await using var second = await TestBroker.StartEmbeddedAsync(directory.Path, timeout.Token);
        var tokens = await second.Admin(adminSecret).ListTokensAsync(new ListTokensRequest(), deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var info = await second.Admin(created.Secret).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);

        tokens.Tokens.Should().ContainSingle(t => t.Name == "ci-bot").Which.TokenId.Should().Be(created.Token.TokenId);
        tokens.Tokens.Should().HaveCount(2, "the restart found the admin token and created no second one");
        info.Caller.DisplayName.Should().Be("ci-bot");
        info.CallerRole.Should().Be(Role.Operator);
        info.DatabaseMode.Should().Contain("embedded");
        File.GetUnixFileMode(tokenFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (await File.ReadAllTextAsync(tokenFile, timeout.Token)).Trim().Should().Be(adminSecret);
    }
}
