using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Queries;

[Collection(PostgresCollection.Name)]
public sealed class HistoryTests(PostgresFixture postgres)
{
    [Fact]
    public async Task GetSessionHistory_Paged_ReturnsEachEventOnceAndIgnoresLaterOnes()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<HistoryTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var other = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var positions = await SteeringSeed.HooksAsync(env.Database, session, 11, cancellationToken: timeout.Token);
        await SteeringSeed.HooksAsync(env.Database, other, 3, cancellationToken: timeout.Token);

        var request = new GetSessionHistoryRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, PageSize = 4 };
        var first = await env.Viewer.GetSessionHistoryAsync(request, SteeringEnv.Call(timeout.Token));
        await SteeringSeed.HooksAsync(env.Database, session, 2, cancellationToken: timeout.Token); // after the first page: Watch's, not history's
        var cursors = first.Events.Select(e => e.Cursor).ToList();
        request.PageToken = first.NextPageToken;
        while (request.PageToken.Length > 0)
        {
            var page = await env.Viewer.GetSessionHistoryAsync(request, SteeringEnv.Call(timeout.Token));
            page.HeadCursor.Should().Be(first.HeadCursor, "the first page pins the head");
            cursors.AddRange(page.Events.Select(e => e.Cursor));
            request.PageToken = page.NextPageToken;
        }

        cursors.Should().Equal(positions.Select(p => "ev" + p));
        first.Events.Should().OnlyContain(e => e.Kind == EventKind.Hook && e.Hook.RawJson.Length > 0 && e.SessionId == session.Id.ToString());
    }

    [Fact]
    public async Task GetSessionHistory_NewestFirstWithoutRawJson_ReturnsLastEventsSmall()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<HistoryTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var positions = await SteeringSeed.HooksAsync(env.Database, session, 5, cancellationToken: timeout.Token);

        var page = await env.Viewer.GetSessionHistoryAsync(
            new GetSessionHistoryRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, NewestFirst = true, OmitRawJson = true, PageSize = 3 },
            SteeringEnv.Call(timeout.Token));

        page.Events.Select(e => e.Cursor).Should().Equal(positions.AsEnumerable().Reverse().Take(3).Select(p => "ev" + p));
        page.Events.Should().OnlyContain(e => e.Hook.RawJson.Length == 0 && e.Hook.HookEventName.Length > 0);
        page.NextPageToken.Should().NotBeEmpty();
    }

    [Fact]
    public async Task GetSessionHistory_AfterAndBeforeCursor_ReturnsTheWindowOnly()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<HistoryTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var positions = await SteeringSeed.HooksAsync(env.Database, session, 6, cancellationToken: timeout.Token);

        var page = await env.Viewer.GetSessionHistoryAsync(
            new GetSessionHistoryRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, AfterCursor = "ev" + positions[1], BeforeCursor = "ev" + positions[4] },
            SteeringEnv.Call(timeout.Token));

        page.Events.Select(e => e.Cursor).Should().Equal(positions[2..4].Select(p => "ev" + p));
    }

    [Theory]
    [InlineData("after_cursor")]
    [InlineData("page_size")]
    [InlineData("kinds")]
    public async Task GetSessionHistory_BadField_InvalidArgumentNamingIt(string field)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<HistoryTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var request = new GetSessionHistoryRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } };
        switch (field)
        {
            case "after_cursor":
                request.AfterCursor = "12";
                break;
            case "page_size":
                request.PageSize = -1;
                break;
            default:
                request.Kinds.Add(EventKind.Unspecified);
                break;
        }

        var status = await RpcAssert.FailsAsync(() => env.Viewer.GetSessionHistoryAsync(request, SteeringEnv.Call(timeout.Token)).ResponseAsync, StatusCode.InvalidArgument);

        status.Detail.Should().StartWith(field);
    }
}
