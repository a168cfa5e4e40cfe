using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Access;
using Relay.Broker.Audit;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Admin.Access;

[Collection(PostgresCollection.Name)]
public sealed class AuditTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ListAuditEvents_FiltersAndPages_NewestFirst()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var (adminId, admin) = await AccessSeed.TokenAsync(database, Role.Admin);
        var client = broker.Admin(admin);
        var sessionId = Guid.NewGuid();
        var audit = broker.Services.GetRequiredService<AuditLog>();
        var before = DateTimeOffset.UtcNow;
        var secrets = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            secrets.Add((await client.CreateTokenAsync(new CreateTokenRequest { Name = "audited-" + i, Role = Role.Viewer }, deadline: AccessSeed.Deadline)).Secret);
        }

        await audit.RecordAsync(new AuditRecord(Caller.System, AuditActions.PromptSend, AuditTarget.Prompt("p-1")) { SessionId = sessionId, Details = new { Chars = 12 } });

        var tokens = await ReadAllAsync(client, new ListAuditEventsRequest { ActionPrefix = "token.", ActorId = adminId.ToString(), PageSize = 2 });
        var bySession = await client.ListAuditEventsAsync(new ListAuditEventsRequest { SessionId = sessionId.ToString() }, deadline: AccessSeed.Deadline);
        var byTime = await client.ListAuditEventsAsync(new ListAuditEventsRequest { Since = Timestamp.FromDateTimeOffset(before), ActionPrefix = "token.create" }, deadline: AccessSeed.Deadline);
        var none = await client.ListAuditEventsAsync(new ListAuditEventsRequest { Until = Timestamp.FromDateTimeOffset(before.AddDays(-1)) }, deadline: AccessSeed.Deadline);

        tokens.Select(e => AuditDetailsName(e)).Should().Equal("audited-2", "audited-1", "audited-0");
        tokens.Should().OnlyContain(e => e.Action == "token.create" && e.Actor.Kind == PrincipalKind.User && e.Outcome == AuditOutcome.Succeeded);
        tokens.Should().OnlyContain(e => secrets.All(secret => !e.DetailsJson.Contains(secret)));
        var prompt = bySession.Events.Should().ContainSingle().Which;
        prompt.Action.Should().Be("prompt.send");
        prompt.Actor.Should().Be(new Principal { Kind = PrincipalKind.System, DisplayName = "relay" });
        prompt.TargetKind.Should().Be("prompt");
        prompt.TargetId.Should().Be("p-1");
        prompt.SessionId.Should().Be(sessionId.ToString());
        prompt.DetailsJson.Should().Be("{\"chars\":12}");
        byTime.Events.Should().HaveCount(3);
        none.Events.Should().BeEmpty();
    }

    [Fact]
    public async Task ListAuditEvents_AsOperator_PermissionDenied()
    {
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<AuditTests>());
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);

        var act = async () => await broker.Admin(op).ListAuditEventsAsync(new ListAuditEventsRequest(), deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("needs role admin");
    }

    [Theory]
    [InlineData("not base64 !!")]
    [InlineData("YWJj")]
    public async Task ListAuditEvents_ForgedPageToken_InvalidArgument(string pageToken)
    {
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<AuditTests>());
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).ListAuditEventsAsync(new ListAuditEventsRequest { PageToken = pageToken }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task ListAuditEvents_UnknownMachineName_NotFound()
    {
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<AuditTests>());
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).ListAuditEventsAsync(new ListAuditEventsRequest { Machine = "nowhere" }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }

    private static string AuditDetailsName(AuditEvent e) =>
        System.Text.Json.JsonDocument.Parse(e.DetailsJson).RootElement.GetProperty("name").GetString()!;

    private static async Task<List<AuditEvent>> ReadAllAsync(Protocol.V1.Admin.AdminClient client, ListAuditEventsRequest request)
    {
        var events = new List<AuditEvent>();
        do
        {
            var page = await client.ListAuditEventsAsync(request, deadline: AccessSeed.Deadline);
            page.Events.Count.Should().BeLessThanOrEqualTo(request.PageSize);
            events.AddRange(page.Events);
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        return events;
    }
}
