using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Briefings;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Admin.Config;

[Collection(PostgresCollection.Name)]
public sealed class BriefingTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Briefings_SetGetListReplaceDelete_RoundTrip()
    {
        await using var broker = await StartAsync();
        var (opId, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator, "olga-" + Suffix());
        var client = broker.Admin(op);
        var name = "reviewer-" + Suffix();
        var signals = broker.Services.GetRequiredService<BrokerSignals>();
        var version = signals.Version(BriefingStore.ChangedTopic);

        var set = await client.SetBriefingAsync(new SetBriefingRequest { Name = name, Text = "Check tests first." }, deadline: AccessSeed.Deadline);
        var got = await client.GetBriefingAsync(new GetBriefingRequest { Name = name }, deadline: AccessSeed.Deadline);
        var replaced = await client.SetBriefingAsync(new SetBriefingRequest { Name = name, Text = "Check tests and docs." }, deadline: AccessSeed.Deadline);
        var listed = await client.ListBriefingsAsync(new ListBriefingsRequest { PageSize = 500 }, deadline: AccessSeed.Deadline);
        await client.DeleteBriefingAsync(new DeleteBriefingRequest { Name = name }, deadline: AccessSeed.Deadline);
        var gone = async () => await client.GetBriefingAsync(new GetBriefingRequest { Name = name }, deadline: AccessSeed.Deadline);

        set.UpdatedBy.Should().Be(new Principal { Kind = PrincipalKind.User, Id = opId.ToString(), DisplayName = set.UpdatedBy.DisplayName });
        got.Text.Should().Be("Check tests first.");
        got.UpdatedBy.DisplayName.Should().StartWith("olga-");
        replaced.Text.Should().Be("Check tests and docs.");
        listed.Briefings.Should().ContainSingle(b => b.Name == name).Which.Text.Should().Be("Check tests and docs.");
        (await gone.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
        signals.Version(BriefingStore.ChangedTopic).Should().Be(version + 3);
        (await broker.Services.GetRequiredService<BriefingStore>().FindTextAsync(name)).Should().BeNull();

        var audit = await broker.Admin((await AccessSeed.TokenAsync(broker.Database, Role.Admin)).Secret)
            .ListAuditEventsAsync(new ListAuditEventsRequest { TargetId = name }, deadline: AccessSeed.Deadline);
        audit.Events.Select(e => e.Action).Should().Equal("briefing.delete", "briefing.set", "briefing.set");
        audit.Events.Should().OnlyContain(e => e.TargetKind == "briefing" && e.Actor.Id == opId.ToString());
    }

    [Theory]
    [InlineData("", "text", "name is required")]
    [InlineData("ok", "", "text is required")]
    [InlineData("ok", "   ", "text is required")]
    public async Task SetBriefing_MissingField_InvalidArgument(string name, string text, string message)
    {
        await using var broker = await StartAsync();
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);

        var act = async () => await broker.Admin(op).SetBriefingAsync(new SetBriefingRequest { Name = name, Text = text }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains(message));
    }

    [Fact]
    public async Task SetBriefing_OversizedText_InvalidArgumentWithLimit()
    {
        await using var broker = await StartAsync();
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);

        var act = async () => await broker.Admin(op).SetBriefingAsync(new SetBriefingRequest { Name = "big", Text = new string('b', 10_001) }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(
            new Status(StatusCode.InvalidArgument, "text is 10001 characters long; the limit is 10000."));
    }

    [Fact]
    public async Task DeleteBriefing_Unknown_NotFound()
    {
        await using var broker = await StartAsync();
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);

        var act = async () => await broker.Admin(op).DeleteBriefingAsync(new DeleteBriefingRequest { Name = "never-set-" + Suffix() }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.NotFound && e.Status.Detail.Contains("relayctl briefings list"));
    }

    [Fact]
    public async Task ListBriefings_Paged_ByName()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var (_, op) = await AccessSeed.TokenAsync(database, Role.Operator);
        var client = broker.Admin(op);
        foreach (var name in new[] { "c", "a", "d", "b", "e" })
        {
            await client.SetBriefingAsync(new SetBriefingRequest { Name = name, Text = "briefing " + name }, deadline: AccessSeed.Deadline);
        }

        var names = new List<string>();
        var request = new ListBriefingsRequest { PageSize = 2 };
        do
        {
            var page = await client.ListBriefingsAsync(request, deadline: AccessSeed.Deadline);
            names.AddRange(page.Briefings.Select(b => b.Name));
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        names.Should().Equal("a", "b", "c", "d", "e");
    }

    private async Task<TestBroker> StartAsync() => await TestBroker.StartAsync(await postgres.DatabaseFor<BriefingTests>());

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];
}
