using Microsoft.EntityFrameworkCore;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Queries;

[Collection(PostgresCollection.Name)]
public sealed class ListSessionsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ListSessions_PagesOfTwo_ReturnEverySessionOnceMostRecentFirst()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ListSessionsTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await SteeringSeed.SessionAsync(env.Database, machine, lastActivity: start.AddMinutes(i), cancellationToken: timeout.Token)).Id.ToString());
        }

        var seen = new List<string>();
        var request = new ListSessionsRequest { Machine = machine.Id.ToString(), PageSize = 2 };
        do
        {
            var page = await env.Viewer.ListSessionsAsync(request, SteeringEnv.Call(timeout.Token));
            page.Sessions.Count.Should().BeLessThanOrEqualTo(2);
            page.Sessions.Should().OnlyContain(s => s.Lineage.Count == 0);
            seen.AddRange(page.Sessions.Select(s => s.SessionId));
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        seen.Should().Equal(Enumerable.Reverse(ids));
    }

    [Fact]
    public async Task ListSessions_Filters_CombineWithAnd()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ListSessionsTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var api = await SteeringSeed.SessionAsync(env.Database, machine, "api-" + tag, cwd: $"/srv/{tag}/api", cancellationToken: timeout.Token);
        var web = await SteeringSeed.SessionAsync(env.Database, machine, "web-" + tag, SessionStatus.WaitingForInput, cwd: $"/srv/{tag}/web", cancellationToken: timeout.Token);
        var ended = await SteeringSeed.SessionAsync(env.Database, machine, "old-" + tag, SessionStatus.Ended, cwd: $"/srv/{tag}/api/sub", cancellationToken: timeout.Token);

        async Task<string[]> ListAsync(ListSessionsRequest request) =>
            (await env.Viewer.ListSessionsAsync(request, SteeringEnv.Call(timeout.Token))).Sessions.Select(s => s.SessionId).Order().ToArray();

        (await ListAsync(new ListSessionsRequest { Machine = machine.Name })).Should().BeEquivalentTo([api.Id.ToString(), web.Id.ToString()]);
        (await ListAsync(new ListSessionsRequest { Machine = machine.Name, IncludeEnded = true })).Should().HaveCount(3);
        (await ListAsync(new ListSessionsRequest { Directory = $"/srv/{tag}/api/", IncludeEnded = true })).Should().BeEquivalentTo([api.Id.ToString(), ended.Id.ToString()]);
        (await ListAsync(new ListSessionsRequest { Text = "WEB-" + tag })).Should().Equal(web.Id.ToString());
        (await ListAsync(new ListSessionsRequest { Name = "api-" + tag })).Should().Equal(api.Id.ToString());
        (await ListAsync(new ListSessionsRequest { Machine = machine.Id.ToString(), Statuses = { Protocol.V1.SessionStatus.WaitingForInput, Protocol.V1.SessionStatus.Ended } }))
            .Should().BeEquivalentTo([web.Id.ToString(), ended.Id.ToString()]);
        (await ListAsync(new ListSessionsRequest { Text = "100%_" + tag })).Should().BeEmpty("% and _ in the text match literally");
    }

    [Fact]
    public async Task ListSessions_TokenReplayedWithOtherFilters_InvalidArgument()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ListSessionsTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var first = await env.Viewer.ListSessionsAsync(new ListSessionsRequest { Machine = machine.Name, PageSize = 1 }, SteeringEnv.Call(timeout.Token));

        var status = await RpcAssert.FailsAsync(
            () => env.Viewer.ListSessionsAsync(new ListSessionsRequest { PageSize = 1, PageToken = first.NextPageToken }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.InvalidArgument);
        await RpcAssert.FailsAsync(
            () => env.Viewer.ListSessionsAsync(new ListSessionsRequest { PageToken = "garbage!" }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.InvalidArgument);
        await RpcAssert.FailsAsync(
            () => env.Viewer.ListSessionsAsync(new ListSessionsRequest { Machine = "no-such-machine" }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.NotFound);

        status.Detail.Should().StartWith("page_token");
    }

    [Fact]
    public async Task UpdateSession_Rename_ChangesNameAuditsAndViewerIsRefused()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ListSessionsTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, "before", cancellationToken: timeout.Token);
        var selector = new SessionSelector { SessionId = session.Id.ToString() };

        await RpcAssert.FailsAsync(() => env.Viewer.UpdateSessionAsync(new UpdateSessionRequest { Session = selector, Name = "x" }, SteeringEnv.Call(timeout.Token)).ResponseAsync, StatusCode.PermissionDenied);
        var renamed = await env.Operator.UpdateSessionAsync(new UpdateSessionRequest { Session = selector, Name = "reviewer" }, SteeringEnv.Call(timeout.Token));
        var cleared = await env.Operator.UpdateSessionAsync(new UpdateSessionRequest { Session = selector, Name = "" }, SteeringEnv.Call(timeout.Token));
        await RpcAssert.FailsAsync(() => env.Operator.UpdateSessionAsync(new UpdateSessionRequest { Session = selector, Name = new string('n', 129) }, SteeringEnv.Call(timeout.Token)).ResponseAsync, StatusCode.InvalidArgument);

        renamed.Name.Should().Be("reviewer");
        cleared.Name.Should().BeEmpty();
        await using var db = env.Database.CreateContext();
        (await db.AuditLog.CountAsync(a => a.Action == "session.update" && a.Target == "session:" + session.Id, timeout.Token)).Should().Be(2);
        (await db.Sessions.SingleAsync(s => s.Id == session.Id, timeout.Token)).Name.Should().BeNull();
    }
}
