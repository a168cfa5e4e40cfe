using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Admin.Access;

[Collection(PostgresCollection.Name)]
public sealed class TokenAdminTests(PostgresFixture postgres)
{
    [Fact]
    public async Task CreateToken_SecretShownOnce_StoredHashed()
    {
        await using var broker = await StartAsync();
        var (adminId, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin, "ada-" + Suffix());
        var client = broker.Admin(admin);
        var name = "ci-nightly-" + Suffix();

        var created = await client.CreateTokenAsync(new CreateTokenRequest { Name = name, Role = Role.Operator }, deadline: AccessSeed.Deadline);

        created.Secret.Should().StartWith("relay_pat_");
        created.Token.Name.Should().Be(name);
        created.Token.Role.Should().Be(Role.Operator);
        created.Token.SecretPrefix.Should().HaveLength("relay_pat_".Length + 4);
        created.Secret.Should().StartWith(created.Token.SecretPrefix);
        created.Token.CreatedBy.Id.Should().Be(adminId.ToString());
        created.Token.CreatedBy.Kind.Should().Be(PrincipalKind.User);

        var listed = await client.ListTokensAsync(new ListTokensRequest { PageSize = 500 }, deadline: AccessSeed.Deadline);
        listed.Tokens.Should().ContainSingle(t => t.TokenId == created.Token.TokenId).Which.SecretPrefix.Should().Be(created.Token.SecretPrefix);
        JsonFormatter.Default.Format(listed).Should().NotContain(created.Secret);

        await using var db = broker.Database.CreateContext();
        var row = await db.ApiTokens.SingleAsync(t => t.Id == Guid.Parse(created.Token.TokenId));
        row.TokenHash.Should().Equal(TokenHash.Compute(created.Secret));

        var info = await broker.Admin(created.Secret).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);
        info.CallerRole.Should().Be(Role.Operator);
    }

    [Fact]
    public async Task CreateToken_NameOfValidToken_AlreadyExists()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var client = broker.Admin(admin);
        var request = new CreateTokenRequest { Name = "dup-" + Suffix(), Role = Role.Viewer };
        var first = await client.CreateTokenAsync(request, deadline: AccessSeed.Deadline);

        var again = async () => await client.CreateTokenAsync(request, deadline: AccessSeed.Deadline);
        (await again.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.AlreadyExists);

        await client.RevokeTokenAsync(new RevokeTokenRequest { TokenId = first.Token.TokenId }, deadline: AccessSeed.Deadline);
        var reused = await client.CreateTokenAsync(request, deadline: AccessSeed.Deadline);
        reused.Token.Name.Should().Be(request.Name);
    }

    [Theory]
    [InlineData("", Role.Viewer, 0L, "name is required")]
    [InlineData("   ", Role.Viewer, 0L, "name is required")]
    [InlineData("x", Role.Unspecified, 0L, "role is required")]
    [InlineData("x", (Role)42, 0L, "role has an unknown value")]
    [InlineData("x", Role.Viewer, -60L, "expires_in must be positive")]
    [InlineData("line\nbreak", Role.Viewer, 0L, "control characters")]
    public async Task CreateToken_BadInput_InvalidArgument(string name, Role role, long expiresSeconds, string message)
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var request = new CreateTokenRequest { Name = name, Role = role };
        if (expiresSeconds != 0)
        {
            request.ExpiresIn = new Duration { Seconds = expiresSeconds };
        }

        var act = async () => await broker.Admin(admin).CreateTokenAsync(request, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains(message));
    }

    [Fact]
    public async Task CreateToken_OversizedName_InvalidArgumentWithLimit()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).CreateTokenAsync(new CreateTokenRequest { Name = new string('n', 129), Role = Role.Viewer }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(
            new Status(StatusCode.InvalidArgument, "name is 129 characters long; the limit is 128."));
    }

    [Theory]
    [InlineData("not-a-uuid", StatusCode.InvalidArgument)]
    [InlineData("", StatusCode.InvalidArgument)]
    [InlineData("3f0c1d2e-0000-4000-8000-000000000000", StatusCode.NotFound)]
    public async Task RevokeToken_BadId_ClearStatus(string tokenId, StatusCode expected)
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).RevokeTokenAsync(new RevokeTokenRequest { TokenId = tokenId }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task RevokeToken_Twice_SecondChangesNothing_RevokedByAndAuditRecorded()
    {
        await using var broker = await StartAsync();
        var (adminId, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin, "rita-" + Suffix());
        var (victimId, _) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);
        var client = broker.Admin(admin);

        var first = await client.RevokeTokenAsync(new RevokeTokenRequest { TokenId = victimId.ToString() }, deadline: AccessSeed.Deadline);
        var second = await client.RevokeTokenAsync(new RevokeTokenRequest { TokenId = victimId.ToString() }, deadline: AccessSeed.Deadline);

        first.RevokedAt.Should().NotBeNull();
        second.RevokedAt.Should().Be(first.RevokedAt);
        second.RevokedBy.Id.Should().Be(adminId.ToString());
        second.RevokedBy.DisplayName.Should().StartWith("rita-");
        var audit = await client.ListAuditEventsAsync(new ListAuditEventsRequest { ActionPrefix = "token.revoke", TargetId = victimId.ToString() }, deadline: AccessSeed.Deadline);
        var entry = audit.Events.Should().ContainSingle().Which;
        entry.Actor.Id.Should().Be(adminId.ToString());
        entry.TargetKind.Should().Be("token");
        entry.Outcome.Should().Be(AuditOutcome.Succeeded);
        entry.RemoteAddress.Should().StartWith("ipv4:127.0.0.1:");

        var listed = await client.ListTokensAsync(new ListTokensRequest { PageSize = 500 }, deadline: AccessSeed.Deadline);
        listed.Tokens.Should().NotContain(t => t.TokenId == victimId.ToString());
        var all = await client.ListTokensAsync(new ListTokensRequest { PageSize = 500, IncludeRevoked = true }, deadline: AccessSeed.Deadline);
        all.Tokens.Should().Contain(t => t.TokenId == victimId.ToString());
    }

    [Fact]
    public async Task RevokeToken_LastValidAdmin_FailedPrecondition()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var secret = (await File.ReadAllTextAsync(Path.Combine(broker.DataDirectory, "admin.token"))).Trim();
        var client = broker.Admin(secret);
        var self = await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        var act = async () => await client.RevokeTokenAsync(new RevokeTokenRequest { TokenId = self.Caller.Id }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.FailedPrecondition && e.Status.Detail.Contains("last valid admin token"));
    }

    [Fact]
    public async Task ListTokens_Paged_EveryTokenOnce()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var (_, admin) = await AccessSeed.TokenAsync(database, Role.Admin);
        var client = broker.Admin(admin);
        for (var i = 0; i < 4; i++)
        {
            await client.CreateTokenAsync(new CreateTokenRequest { Name = "paged-" + i, Role = Role.Viewer }, deadline: AccessSeed.Deadline);
        }

        var seen = new List<string>();
        var request = new ListTokensRequest { PageSize = 2 };
        do
        {
            var page = await client.ListTokensAsync(request, deadline: AccessSeed.Deadline);
            page.Tokens.Count.Should().BeLessThanOrEqualTo(2);
            seen.AddRange(page.Tokens.Select(t => t.Name));
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        seen.Should().OnlyHaveUniqueItems().And.HaveCount(6); // the first-start token, the seeded admin and four more
        seen.Take(4).Should().Equal("paged-3", "paged-2", "paged-1", "paged-0");
    }

    [Fact]
    public async Task ListTokens_ForgedPageToken_InvalidArgument()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).ListTokensAsync(new ListTokensRequest { PageToken = "%%%not-ours" }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    private async Task<TestBroker> StartAsync() => await TestBroker.StartAsync(await postgres.DatabaseFor<TokenAdminTests>());

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];
}
