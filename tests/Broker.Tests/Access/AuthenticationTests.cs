using Grpc.Health.V1;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Access;

[Collection(PostgresCollection.Name)]
public sealed class AuthenticationTests(PostgresFixture postgres)
{
    [Fact]
    public async Task GetServerInfo_NoToken_UnauthenticatedSayingHowToGetOne()
    {
        await using var broker = await StartAsync();

        var act = async () => await broker.Admin(null).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        var error = (await act.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.Unauthenticated);
        error.Status.Detail.Should().Contain("admin.token").And.Contain("relayctl tokens create");
    }

    [Theory]
    [InlineData("relay_pat_not-a-real-token", "not valid")]
    [InlineData("relay_mc_abc", "machine credential")]
    [InlineData("relay_enr_abc", "enrolment token")]
    public async Task GetServerInfo_UnknownToken_UnauthenticatedWithReason(string secret, string reason)
    {
        await using var broker = await StartAsync();

        var act = async () => await broker.Admin(secret).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains(reason));
    }

    [Fact]
    public async Task GetServerInfo_NotBearerScheme_Unauthenticated()
    {
        await using var broker = await StartAsync();
        var client = new Protocol.V1.Admin.AdminClient(broker.CreateChannel());

        var act = async () => await client.GetServerInfoAsync(new GetServerInfoRequest(), [new Metadata.Entry("authorization", "Basic dXNlcjpwYXNz")], AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(new Status(StatusCode.Unauthenticated, "The authorization metadata must be 'Bearer <token>'."));
    }

    [Fact]
    public async Task GetServerInfo_ViewerToken_ReturnsCallerAndRole()
    {
        await using var broker = await StartAsync();
        var (id, secret) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer, "vera-viewer");

        var info = await broker.Admin(secret).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        info.Caller.Should().Be(new Principal { Kind = PrincipalKind.User, Id = id.ToString(), DisplayName = "vera-viewer" });
        info.CallerRole.Should().Be(Role.Viewer);
        info.DatabaseMode.Should().Be("external");
        info.Version.Should().NotBeEmpty();
        info.Limits.MaxBriefingChars.Should().Be(10_000);
        info.Limits.MaxMessageBytes.Should().Be(4u * 1024 * 1024);
    }

    [Fact]
    public async Task CreateToken_AsViewer_PermissionDeniedNamingAdminAndAudited()
    {
        await using var broker = await StartAsync();
        var (viewerId, viewer) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);

        var act = async () => await broker.Admin(viewer).CreateTokenAsync(new CreateTokenRequest { Name = "sneaky", Role = Role.Admin }, deadline: AccessSeed.Deadline);

        var error = (await act.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.PermissionDenied);
        error.Status.Detail.Should().Contain("needs role admin").And.Contain("has role viewer");
        await using var db = broker.Database.CreateContext();
        var entry = await db.AuditLog.SingleAsync(a => a.Actor == "token:" + viewerId && a.Action == "token.create");
        entry.Details.Should().Contain("\"outcome\": \"denied\"");
    }

    [Fact]
    public async Task SetBriefing_AsViewer_PermissionDenied_AsOperator_Allowed()
    {
        await using var broker = await StartAsync();
        var (_, viewer) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);
        var request = new SetBriefingRequest { Name = "auth-test-" + Guid.NewGuid().ToString("N")[..6], Text = "Review carefully." };

        var denied = async () => await broker.Admin(viewer).SetBriefingAsync(request, deadline: AccessSeed.Deadline);
        (await denied.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.PermissionDenied);

        var briefing = await broker.Admin(op).SetBriefingAsync(request, deadline: AccessSeed.Deadline);
        briefing.Text.Should().Be("Review carefully.");
    }

    [Fact]
    public async Task RevokeToken_ThenUseIt_UnauthenticatedAtOnce()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var (victimId, victim) = await AccessSeed.TokenAsync(broker.Database, Role.Operator, "victim-" + Guid.NewGuid().ToString("N")[..6]);
        var victimClient = broker.Admin(victim);
        await victimClient.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline); // cached as valid now

        await broker.Admin(admin).RevokeTokenAsync(new RevokeTokenRequest { TokenId = victimId.ToString() }, deadline: AccessSeed.Deadline);
        var act = async () => await victimClient.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("was revoked"));
    }

    [Fact]
    public async Task RevokeToken_CallerRevokedToken_FiresForOpenStreams()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var (victimId, victim) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);
        var authenticator = broker.Services.GetRequiredService<Authenticator>();
        var caller = await authenticator.AuthenticateUserAsync(victim, null, CancellationToken.None);

        caller.Revoked.IsCancellationRequested.Should().BeFalse();
        await broker.Admin(admin).RevokeTokenAsync(new RevokeTokenRequest { TokenId = victimId.ToString() }, deadline: AccessSeed.Deadline);

        caller.Revoked.IsCancellationRequested.Should().BeTrue();
    }

    [Fact]
    public async Task ExpiredToken_Unauthenticated()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await StartAsync(clock);
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var created = await broker.Admin(admin).CreateTokenAsync(
            new CreateTokenRequest { Name = "short-lived-" + Guid.NewGuid().ToString("N")[..6], Role = Role.Viewer, ExpiresIn = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)) },
            deadline: AccessSeed.Deadline);
        var client = broker.Admin(created.Secret);
        await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        clock.Now += TimeSpan.FromHours(2);
        var act = async () => await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("expired"));
    }

    [Fact]
    public async Task LastUsedAt_WrittenAtMostOncePerMinute()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await StartAsync(clock);
        var (id, secret) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);
        var client = broker.Admin(secret);

        await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);
        var first = await LastUsedAsync(broker.Database, id);
        clock.Now += TimeSpan.FromSeconds(20);
        await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);
        var second = await LastUsedAsync(broker.Database, id);
        clock.Now += TimeSpan.FromMinutes(2);
        await client.GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline);
        var third = await LastUsedAsync(broker.Database, id);

        first.Should().BeCloseTo(clock.Now - TimeSpan.FromSeconds(140), TimeSpan.FromMilliseconds(1));
        second.Should().Be(first);
        third.Should().BeCloseTo(clock.Now, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Health_NoToken_Serves()
    {
        await using var broker = await StartAsync();
        var check = new Method<HealthCheckRequest, HealthCheckResponse>(
            MethodType.Unary, "grpc.health.v1.Health", "Check", Marshallers.Protobuf(HealthCheckRequest.Parser), Marshallers.Protobuf(HealthCheckResponse.Parser));

        var response = await broker.CreateChannel().CreateCallInvoker().AsyncUnaryCall(check, new CallOptions(Deadline: AccessSeed.Deadline), new HealthCheckRequest());

        response.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    [Fact]
    public async Task Interceptor_MachineCredential_ResolvesThatMachine()
    {
        await using var broker = await StartAsync();
        var (machineA, credentialA) = await AccessSeed.MachineAsync(broker.Database);
        var (machineB, _) = await AccessSeed.MachineAsync(broker.Database);
        var interceptor = broker.Services.GetRequiredService<AccessInterceptor>();
        var context = new FakeCallContext("/relay.v1.AgentLink/Connect", "Bearer " + credentialA, CancellationToken.None);
        Caller? seen = null;

        await interceptor.InterceptAsync(context, c =>
        {
            seen = c.RequireMachine();
            return Task.CompletedTask;
        });

        seen!.Kind.Should().Be(PrincipalKind.Machine);
        seen.MachineId.Should().Be(machineA.Id).And.NotBe(machineB.Id);
        seen.DisplayName.Should().Be(machineA.Name);
        seen.AuditActor.Should().Be("machine:" + machineA.Id);
    }

    [Fact]
    public async Task Interceptor_PersonalTokenOnConnect_Unauthenticated()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var interceptor = broker.Services.GetRequiredService<AccessInterceptor>();
        var context = new FakeCallContext("/relay.v1.AgentLink/Connect", "Bearer " + admin, CancellationToken.None);

        var act = () => interceptor.InterceptAsync(context, _ => Task.CompletedTask);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("personal token"));
    }

    [Fact]
    public async Task Connect_NoCredential_UnauthenticatedOverTheWire()
    {
        await using var broker = await StartAsync();
        var client = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel());

        using var call = client.ConnectAsync(deadline: AccessSeed.Deadline);
        var act = async () => await call.ResponseStream.MoveNext(CancellationToken.None);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("relay-agent enroll"));
    }

    private async Task<TestBroker> StartAsync(TimeProvider? clock = null)
    {
        var database = await postgres.DatabaseFor<AuthenticationTests>();
        return clock is null
            ? await TestBroker.StartAsync(database)
            : await TestBroker.StartAsync(database, configure: b => b.Services.AddSingleton(clock));
    }

    private static async Task<DateTimeOffset?> LastUsedAsync(TestDatabase database, Guid id)
    {
        await using var db = database.CreateContext();
        return await db.ApiTokens.Where(t => t.Id == id).Select(t => t.LastUsedAt).SingleAsync();
    }
}
