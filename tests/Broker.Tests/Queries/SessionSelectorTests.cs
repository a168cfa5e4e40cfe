using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Queries;

[Collection(PostgresCollection.Name)]
public sealed class SessionSelectorTests(PostgresFixture postgres)
{
    [Fact]
    public async Task GetSession_ByEarlierClaudeSessionId_ResolvesSessionWithLineage()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var session = await SteeringSeed.SessionAsync(env.Database, machine, claudeIds: [first, second], cancellationToken: timeout.Token);

        var response = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { ClaudeSessionId = first.ToString() } }, SteeringEnv.Call(timeout.Token));

        response.Session.SessionId.Should().Be(session.Id.ToString());
        response.Session.ClaudeSessionId.Should().Be(second.ToString(), "the current Claude id is the last segment's");
        response.Session.Lineage.Select(s => s.ClaudeSessionId).Should().Equal(first.ToString(), second.ToString());
        response.Session.Lineage[0].EndedAt.Should().NotBeNull();
        response.Session.MachineName.Should().Be(machine.Name);
    }

    [Fact]
    public async Task GetSession_ByLaunchIdAndBySessionId_ResolveTheSameSession()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var launchId = Guid.NewGuid();
        var session = await SteeringSeed.SessionAsync(env.Database, machine, launchId: launchId, cancellationToken: timeout.Token);

        var byLaunch = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { LaunchId = launchId.ToString() } }, SteeringEnv.Call(timeout.Token));
        var byId = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } }, SteeringEnv.Call(timeout.Token));
        var byLookup = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Lookup = launchId.ToString() } }, SteeringEnv.Call(timeout.Token));

        byLaunch.Session.SessionId.Should().Be(session.Id.ToString());
        byId.Session.SessionId.Should().Be(session.Id.ToString());
        byLookup.Session.SessionId.Should().Be(session.Id.ToString());
    }

    [Fact]
    public async Task GetSession_NameOfTwoLiveSessions_FailsPreconditionListingCandidates()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var (a, b) = (await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token));
        var name = "reviewer-" + Guid.NewGuid().ToString("N")[..6];
        var onA = await SteeringSeed.SessionAsync(env.Database, a, name, cancellationToken: timeout.Token);
        var onB = await SteeringSeed.SessionAsync(env.Database, b, name, cancellationToken: timeout.Token);

        var status = await RpcAssert.FailsAsync(
            () => env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Name = name } }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.FailedPrecondition);
        var scoped = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Name = name, Machine = b.Name } }, SteeringEnv.Call(timeout.Token));

        status.Detail.Should().Contain(onA.Id.ToString()).And.Contain(onB.Id.ToString()).And.Contain(a.Name);
        scoped.Session.SessionId.Should().Be(onB.Id.ToString());
    }

    [Fact]
    public async Task GetSession_NameWithOnlyEndedSessions_ResolvesMostRecentlyActive()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var name = "builder-" + Guid.NewGuid().ToString("N")[..6];
        await SteeringSeed.SessionAsync(env.Database, machine, name, SessionStatus.Ended, lastActivity: DateTimeOffset.UtcNow.AddHours(-2), cancellationToken: timeout.Token);
        var recent = await SteeringSeed.SessionAsync(env.Database, machine, name, SessionStatus.Ended, lastActivity: DateTimeOffset.UtcNow.AddHours(-1), cancellationToken: timeout.Token);

        var response = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Lookup = name } }, SteeringEnv.Call(timeout.Token));

        response.Session.SessionId.Should().Be(recent.Id.ToString());
        response.Session.Status.Should().Be(Protocol.V1.SessionStatus.Ended);
        response.Session.EndReason.Should().Be(SessionEndReason.Exited);
    }

    [Fact]
    public async Task GetSession_LookupByPrefix_ResolvesUniquePrefixAndRefusesAmbiguousOrShortOnes()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var stem = Guid.NewGuid().ToString("N")[..6];
        var first = await SteeringSeed.SessionAsync(env.Database, machine, id: Guid.Parse(stem + "01-0000-4000-8000-000000000001"), cancellationToken: timeout.Token);
        await SteeringSeed.SessionAsync(env.Database, machine, id: Guid.Parse(stem + "02-0000-4000-8000-000000000002"), cancellationToken: timeout.Token);

        var unique = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Lookup = stem + "01" } }, SteeringEnv.Call(timeout.Token));
        var ambiguous = await RpcAssert.FailsAsync(
            () => env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Lookup = stem } }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.FailedPrecondition);
        await RpcAssert.FailsAsync(
            () => env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { Lookup = stem[..5] } }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.NotFound);

        unique.Session.SessionId.Should().Be(first.Id.ToString());
        ambiguous.Detail.Should().Contain("id prefix").And.Contain(first.Id.ToString());
    }

    [Theory]
    [InlineData("session_id", "not-a-uuid", StatusCode.InvalidArgument)]
    [InlineData("session_id", "5d7f4f5e-8f52-4c37-9d0b-6a4ae1f2b0c3", StatusCode.NotFound)]
    [InlineData("claude_session_id", "5d7f4f5e-8f52-4c37-9d0b-6a4ae1f2b0c3", StatusCode.NotFound)]
    [InlineData("name", "nobody-has-this-name", StatusCode.NotFound)]
    [InlineData("none", "", StatusCode.InvalidArgument)]
    public async Task GetSession_BadOrUnknownSelector_ClearStatus(string by, string value, StatusCode expected)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var selector = by switch
        {
            "session_id" => new SessionSelector { SessionId = value },
            "claude_session_id" => new SessionSelector { ClaudeSessionId = value },
            "name" => new SessionSelector { Name = value },
            _ => new SessionSelector(),
        };

        var status = await RpcAssert.FailsAsync(
            () => env.Viewer.GetSessionAsync(new GetSessionRequest { Session = selector }, SteeringEnv.Call(timeout.Token)).ResponseAsync, expected);

        status.Detail.Should().NotBeEmpty();
        if (expected == StatusCode.InvalidArgument)
        {
            status.Detail.Should().StartWith("session");
        }
    }

    [Fact]
    public async Task GetSession_WithOpenItems_ListsOpenPromptsAndPendingApprovals()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SessionSelectorTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, online: true, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var approval = await SteeringSeed.ApprovalAsync(env.Database, session, cancellationToken: timeout.Token);
        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = Guid.NewGuid().ToString(), Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "hello" },
            SteeringEnv.Call(timeout.Token));

        var response = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } }, SteeringEnv.Call(timeout.Token));

        response.OpenPrompts.Select(p => p.PromptId).Should().Equal(sent.Prompt.PromptId);
        response.PendingApprovals.Select(a => a.ApprovalId).Should().Equal(approval.Id.ToString());
        response.Session.PendingPrompts.Should().Be(1);
        response.Session.PendingApprovals.Should().Be(1);
        response.Session.MachineOnline.Should().BeTrue();
    }
}
