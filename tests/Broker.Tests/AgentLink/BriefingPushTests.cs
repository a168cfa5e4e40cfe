using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>Standing briefings reach agents: all of them in the Welcome, every later change as a BriefingUpdate.</summary>
[Collection(PostgresCollection.Name)]
public sealed class BriefingPushTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Briefings_InWelcomeThenSetAndDeletedThroughAdmin_PushedToEveryConnectedAgent()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: true, timeout.Token);
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var (_, secret) = await AccessSeed.TokenAsync(database, Role.Operator, "pat-briefer", timeout.Token);
        var admin = broker.Admin(secret);
        await admin.SetBriefingAsync(new SetBriefingRequest { Name = "reviewer", Text = "Review for security first." }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        await using var first = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var second = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);

        var welcome = await first.ConnectAsync(broker, timeout.Token);
        await second.ConnectAsync(broker, timeout.Token);
        await admin.SetBriefingAsync(new SetBriefingRequest { Name = "tester", Text = "Run make test." }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var added = await Both(first, second, u => u.Name == "tester", timeout.Token);
        await admin.SetBriefingAsync(new SetBriefingRequest { Name = "reviewer", Text = "Review for tests first." }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var changed = await Both(first, second, u => u.Name == "reviewer" && !u.Deleted, timeout.Token);
        await admin.DeleteBriefingAsync(new DeleteBriefingRequest { Name = "reviewer" }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var deleted = await Both(first, second, u => u.Name == "reviewer" && u.Deleted, timeout.Token);
        var rewelcome = await first.ConnectAsync(broker, timeout.Token);

        var briefing = welcome.Briefings.Should().ContainSingle().Which;
        briefing.Name.Should().Be("reviewer");
        briefing.Text.Should().Be("Review for security first.");
        briefing.UpdatedBy.DisplayName.Should().Be("pat-briefer");
        briefing.UpdatedAt.Should().NotBeNull();
        added.Should().AllSatisfy(u => u.Briefing.Text.Should().Be("Run make test."));
        changed.Should().AllSatisfy(u => u.Briefing.Text.Should().Be("Review for tests first."));
        deleted.Should().AllSatisfy(u => u.Briefing.Should().BeNull());
        first.Received().Where(m => m.BriefingUpdate is not null).Should().BeEmpty("the new Welcome carries the current briefings");
        rewelcome.Briefings.Should().ContainSingle().Which.Name.Should().Be("tester");
        first.Sequenced.Should().NotContain(m => m.BriefingUpdate != null, "briefing updates are unsequenced state");
    }

    private static async Task<BriefingUpdate[]> Both(SimulatedAgent first, SimulatedAgent second, Func<BriefingUpdate, bool> match, CancellationToken cancellationToken) =>
    [
        (await first.NextAsync(m => m.BriefingUpdate is { } u && match(u), cancellationToken)).BriefingUpdate,
        (await second.NextAsync(m => m.BriefingUpdate is { } u && match(u), cancellationToken)).BriefingUpdate,
    ];
}
