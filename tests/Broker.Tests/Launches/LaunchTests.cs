using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;
using LaunchStatus = Relay.Broker.Persistence.Entities.LaunchStatus;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Launches;

[Collection(PostgresCollection.Name)]
public sealed class LaunchTests(PostgresFixture postgres)
{
    [Fact]
    public async Task LaunchSession_WithPrompt_ReservesSessionStoresLaunchAndQueuesPrompt()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var launchId = Guid.NewGuid().ToString();

        var response = await env.Operator.LaunchSessionAsync(
            new LaunchSessionRequest { LaunchId = launchId, Machine = machine.Name, Cwd = "/home/dev/api", Name = "api-fixer", Prompt = "fix the build", ClaudeArgs = { "--model", "opus" } },
            SteeringEnv.Call(timeout.Token));

        var launch = response.Launch;
        launch.LaunchId.Should().Be(launchId);
        launch.Status.Should().Be(Protocol.V1.LaunchStatus.Requested);
        launch.ClaudeArgs.Should().Equal("--model", "opus");
        launch.RequestedBy.DisplayName.Should().Be(env.OperatorName);
        var session = await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = new SessionSelector { LaunchId = launchId } }, SteeringEnv.Call(timeout.Token));
        session.Session.SessionId.Should().Be(launch.SessionId);
        session.Session.Status.Should().Be(Protocol.V1.SessionStatus.Starting);
        session.Session.Name.Should().Be("api-fixer");
        session.OpenPrompts.Should().ContainSingle().Which.PromptId.Should().Be(launch.InitialPromptId);
        session.Launch.LaunchId.Should().Be(launchId);
        await using var db = env.Database.CreateContext();
        (await db.AuditLog.CountAsync(a => a.Action == "session.launch" && a.Target == "launch:" + launchId, timeout.Token)).Should().Be(1);
    }

    [Fact]
    public async Task LaunchSession_SameIdAgain_SameLaunchOnceOtherContentAlreadyExists()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var request = new LaunchSessionRequest { LaunchId = "nightly-" + Guid.NewGuid().ToString("N")[..8], Machine = machine.Id.ToString(), Cwd = "/srv/app" };

        var first = await env.Operator.LaunchSessionAsync(request, SteeringEnv.Call(timeout.Token));
        var again = await env.Operator.LaunchSessionAsync(request, SteeringEnv.Call(timeout.Token));
        request.Cwd = "/srv/other";
        var status = await RpcAssert.FailsAsync(() => env.Operator.LaunchSessionAsync(request, SteeringEnv.Call(timeout.Token)).ResponseAsync, StatusCode.AlreadyExists);
        var byKey = await env.Viewer.GetLaunchAsync(new GetLaunchRequest { LaunchId = request.LaunchId }, SteeringEnv.Call(timeout.Token));

        again.Launch.Should().BeEquivalentTo(first.Launch);
        byKey.LaunchId.Should().Be(first.Launch.LaunchId);
        status.Detail.Should().Contain("cwd");
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM launches WHERE machine_id = $1", machine.Id)).Should().Be(1);
    }

    [Fact]
    public async Task LaunchSession_WaitForStart_ReturnsWhenTheAgentReportsStarted()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, online: true, cancellationToken: timeout.Token);
        var launchId = Guid.NewGuid();
        var agent = Task.Run(async () =>
        {
            // AgentLink's part: the agent reports the launch started.
            var topic = BrokerSignals.MachineOutbound(machine.Id.ToString());
            var seen = env.Signals.Version(topic);
            await using var db = env.Database.CreateContext();
            while (!await db.Launches.AnyAsync(l => l.Id == launchId, timeout.Token))
            {
                seen = await env.Signals.WaitAsync(topic, seen, timeout.Token);
            }

            await db.Launches.Where(l => l.Id == launchId).ExecuteUpdateAsync(
                u => u.SetProperty(l => l.Status, LaunchStatus.Started).SetProperty(l => l.StartedAt, DateTimeOffset.UtcNow).SetProperty(l => l.TmuxTarget, "relay:1"),
                timeout.Token);
            env.Signals.Publish(BrokerSignals.Launch(launchId.ToString()));
        });

        var response = await env.Operator.LaunchSessionAsync(
            new LaunchSessionRequest { LaunchId = launchId.ToString(), Machine = machine.Name, WaitForStart = true }, SteeringEnv.Call(timeout.Token));
        await agent;

        response.WaitTimedOut.Should().BeFalse();
        response.Launch.Status.Should().Be(Protocol.V1.LaunchStatus.Started);
        response.Launch.TmuxTarget.Should().Be("relay:1");
    }

    [Theory]
    [InlineData("machine", StatusCode.InvalidArgument)]
    [InlineData("unknown-machine", StatusCode.NotFound)]
    [InlineData("cwd", StatusCode.InvalidArgument)]
    [InlineData("claude_args", StatusCode.InvalidArgument)]
    [InlineData("viewer", StatusCode.PermissionDenied)]
    public async Task LaunchSession_BadInputOrRole_ClearStatus(string problem, StatusCode expected)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var request = new LaunchSessionRequest { Machine = machine.Name };
        var client = env.Operator;
        switch (problem)
        {
            case "machine":
                request.Machine = "";
                break;
            case "unknown-machine":
                request.Machine = "nowhere";
                break;
            case "cwd":
                request.Cwd = "relative/dir";
                break;
            case "claude_args":
                request.ClaudeArgs.Add("--session-id=abc");
                break;
            default:
                client = env.Viewer;
                break;
        }

        var status = await RpcAssert.FailsAsync(() => client.LaunchSessionAsync(request, SteeringEnv.Call(timeout.Token)).ResponseAsync, expected);

        if (expected == StatusCode.InvalidArgument)
        {
            status.Detail.Should().StartWith(problem);
        }
    }

    [Fact]
    public async Task StopSession_LiveSession_StoresRequestOnceAndWaitsForTheEnd()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, online: true, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var stopId = Guid.NewGuid();
        var agent = Task.Run(async () =>
        {
            // AgentLink's part: the agent stops Claude and the session ends.
            var topic = BrokerSignals.MachineOutbound(machine.Id.ToString());
            var seen = env.Signals.Version(topic);
            await using var db = env.Database.CreateContext();
            while (!await db.StopRequests.AnyAsync(s => s.Id == stopId, timeout.Token))
            {
                seen = await env.Signals.WaitAsync(topic, seen, timeout.Token);
            }

            await db.Sessions.Where(s => s.Id == session.Id).ExecuteUpdateAsync(
                u => u.SetProperty(s => s.Status, SessionStatus.Ended).SetProperty(s => s.EndedAt, DateTimeOffset.UtcNow).SetProperty(s => s.EndReason, "stopped"), timeout.Token);
            await db.StopRequests.Where(s => s.Id == stopId).ExecuteUpdateAsync(u => u.SetProperty(s => s.Stopped, true).SetProperty(s => s.FinishedAt, DateTimeOffset.UtcNow), timeout.Token);
            env.Signals.Publish(BrokerSignals.Events);
        });
        var request = new StopSessionRequest
        {
            StopId = stopId.ToString(),
            Session = new SessionSelector { SessionId = session.Id.ToString() },
            GracePeriod = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)),
            Reason = "end of day",
            Wait = true,
        };

        var response = await env.Operator.StopSessionAsync(request, SteeringEnv.Call(timeout.Token));
        await agent;
        var again = await env.Operator.StopSessionAsync(request, SteeringEnv.Call(timeout.Token));

        response.Stopped.Should().BeTrue();
        response.WaitTimedOut.Should().BeFalse();
        response.Session.EndReason.Should().Be(SessionEndReason.Stopped);
        again.StopId.Should().Be(stopId.ToString());
        await using var db = env.Database.CreateContext();
        var stored = await db.StopRequests.SingleAsync(s => s.RelaySessionId == session.Id, timeout.Token);
        stored.GracePeriod.Should().Be(TimeSpan.FromSeconds(5));
        stored.Reason.Should().Be("end of day");
        stored.RequestedBy.Should().Be("token:" + env.OperatorTokenId);
    }

    [Fact]
    public async Task StopSession_EndedSession_SucceedsAndChangesNothing()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<LaunchTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), status: SessionStatus.Ended, cancellationToken: timeout.Token);

        var response = await env.Operator.StopSessionAsync(new StopSessionRequest { Session = new SessionSelector { SessionId = session.Id.ToString() } }, SteeringEnv.Call(timeout.Token));

        response.Stopped.Should().BeTrue();
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM stop_requests WHERE relay_session_id = $1", session.Id)).Should().Be(0);
    }
}
