using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;
using Xunit.Abstractions;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Prompts;

[Collection(PostgresCollection.Name)]
public sealed class SendPromptTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task SendPrompt_ToOfflineMachine_QueuedWithSenderEventAuditAndMachineSignal()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, "worker", cancellationToken: timeout.Token);
        var outbound = env.Signals.Version(BrokerSignals.MachineOutbound(machine.Id.ToString()));

        var response = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = Guid.NewGuid().ToString(), Session = new SessionSelector { Name = "worker", Machine = machine.Name }, Text = "run the tests", ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromHours(2)) },
            SteeringEnv.Call(timeout.Token));

        var prompt = response.Prompt;
        prompt.Status.Should().Be(PromptStatus.Queued);
        prompt.SessionId.Should().Be(session.Id.ToString());
        prompt.SessionName.Should().Be("worker");
        prompt.Sender.Kind.Should().Be(PrincipalKind.User);
        prompt.Sender.Id.Should().Be(env.OperatorTokenId.ToString());
        prompt.Sender.DisplayName.Should().Be(env.OperatorName);
        (prompt.ExpiresAt.ToDateTimeOffset() - prompt.CreatedAt.ToDateTimeOffset()).Should().Be(TimeSpan.FromHours(2));
        response.WaitTimedOut.Should().BeFalse();
        env.Signals.Version(BrokerSignals.MachineOutbound(machine.Id.ToString())).Should().BeGreaterThan(outbound);
        await using var db = env.Database.CreateContext();
        (await db.AuditLog.CountAsync(a => a.Action == "prompt.send" && a.Target == "prompt:" + prompt.PromptId, timeout.Token)).Should().Be(1);
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM events WHERE kind = 'prompt_created' AND relay_session_id = $1", session.Id)).Should().Be(1);
    }

    [Fact]
    public async Task SendPrompt_WithoutWait_AnswersExactlyWhatIsStored()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), "echo", cancellationToken: timeout.Token);

        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest
            {
                PromptId = Guid.NewGuid().ToString(),
                Session = new SessionSelector { SessionId = session.Id.ToString() },
                Text = "check the build",
                // Nanoseconds the database cannot keep: the answer must not promise them either.
                ExpiresIn = new Duration { Seconds = 3600, Nanos = 123_456_789 },
            },
            SteeringEnv.Call(timeout.Token));
        var read = await env.Viewer.GetPromptAsync(new GetPromptRequest { PromptId = sent.Prompt.PromptId }, SteeringEnv.Call(timeout.Token));

        sent.Prompt.Should().Be(read.Prompt, "the answer is the prompt as stored, to the microsecond");
        sent.Replies.Should().BeEmpty();
        sent.WaitTimedOut.Should().BeFalse();
    }

    [Fact]
    public async Task SendPrompt_SameIdSameContent_ReturnsTheSamePromptOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var request = new SendPromptRequest { PromptId = "deploy-2026-11-21.1", Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "deploy" };

        var first = await env.Operator.SendPromptAsync(request, SteeringEnv.Call(timeout.Token));
        var again = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => env.Operator.SendPromptAsync(request, SteeringEnv.Call(timeout.Token)).ResponseAsync));
        var byKey = await env.Operator.GetPromptAsync(new GetPromptRequest { PromptId = "deploy-2026-11-21.1" }, SteeringEnv.Call(timeout.Token));

        again.Should().OnlyContain(r => r.Prompt.PromptId == first.Prompt.PromptId);
        byKey.Prompt.PromptId.Should().Be(first.Prompt.PromptId);
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM prompts WHERE relay_session_id = $1", session.Id)).Should().Be(1);
    }

    [Fact]
    public async Task SendPrompt_SameIdOtherText_AlreadyExists()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var id = Guid.NewGuid().ToString();
        await env.Operator.SendPromptAsync(new SendPromptRequest { PromptId = id, Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "one" }, SteeringEnv.Call(timeout.Token));

        var status = await RpcAssert.FailsAsync(
            () => env.Operator.SendPromptAsync(new SendPromptRequest { PromptId = id, Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "two" }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.AlreadyExists);

        status.Detail.Should().Contain("text");
    }

    [Fact]
    public async Task SendPrompt_WaitUntilReplied_ReturnsTheReplyAnotherTaskStored()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, online: true, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var id = Guid.NewGuid();
        var agent = RunAgentAsync(env, machine.Id, id, "all green", timeout.Token);

        var response = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = id.ToString(), Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "run the tests", WaitUntil = PromptStatus.Replied },
            SteeringEnv.Call(timeout.Token));
        await agent;

        response.WaitTimedOut.Should().BeFalse();
        response.Prompt.Status.Should().Be(PromptStatus.Replied);
        response.Prompt.RepliedAt.Should().NotBeNull();
        response.Replies.Should().ContainSingle().Which.Text.Should().Be("all green");
    }

    [Fact]
    public async Task SendPrompt_WaitRunsOut_SucceedsWithWaitTimedOut()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);

        var response = await env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "anyone?", WaitUntil = PromptStatus.Delivered, WaitTimeout = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)) },
            SteeringEnv.Call(timeout.Token));

        response.WaitTimedOut.Should().BeTrue();
        response.Prompt.Status.Should().Be(PromptStatus.Queued, "an offline machine's prompt stays queued until it expires");
    }

    [Fact]
    public async Task GetPrompt_WaitUntilDelivered_ReturnsOnceDelivered()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var sent = await env.Operator.SendPromptAsync(new SendPromptRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "hi" }, SteeringEnv.Call(timeout.Token));
        var waiting = env.Viewer.GetPromptAsync(new GetPromptRequest { PromptId = sent.Prompt.PromptId, WaitUntil = PromptStatus.Delivered }, SteeringEnv.Call(timeout.Token)).ResponseAsync;

        await AgentSimulation.DeliverAsync(env.Database, env.Signals, Guid.Parse(sent.Prompt.PromptId), timeout.Token);
        var response = await waiting;

        response.Prompt.Status.Should().Be(PromptStatus.Delivered);
        response.Prompt.DeliveryPath.Should().Be(DeliveryPath.Channel);
        response.Prompt.DeliveryAttempts.Should().Be(1);
        response.WaitTimedOut.Should().BeFalse();
    }

    [Fact]
    public async Task SendPrompt_ViewerToken_PermissionDeniedAndNothingStored()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);

        var status = await RpcAssert.FailsAsync(
            () => env.Viewer.SendPromptAsync(new SendPromptRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "hi" }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.PermissionDenied);

        status.Detail.Should().Contain("operator");
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM prompts WHERE relay_session_id = $1", session.Id)).Should().Be(0);
    }

    [Theory]
    [InlineData("text", "must not be empty")]
    [InlineData("text-too-long", "at most 100000 characters")]
    [InlineData("prompt_id", "A-Z a-z 0-9")]
    [InlineData("expires_in", "at most")]
    [InlineData("wait_until", "not a status to wait for")]
    [InlineData("ended", "has ended")]
    public async Task SendPrompt_BadInput_ClearStatus(string problem, string expected)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, status: problem == "ended" ? SessionStatus.Ended : SessionStatus.Working, cancellationToken: timeout.Token);
        var request = new SendPromptRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "hello" };
        switch (problem)
        {
            case "text":
                request.Text = "";
                break;
            case "text-too-long":
                request.Text = new string('a', 100_001);
                break;
            case "prompt_id":
                request.PromptId = "has spaces";
                break;
            case "expires_in":
                request.ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(30));
                break;
            case "wait_until":
                request.WaitUntil = PromptStatus.Expired;
                break;
        }

        var status = await RpcAssert.FailsAsync(
            () => env.Operator.SendPromptAsync(request, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            problem == "ended" ? StatusCode.FailedPrecondition : StatusCode.InvalidArgument);

        status.Detail.Should().Contain(expected);
    }

    [Fact]
    [Trait("Category", "Measure")]
    public async Task SendPrompt_LatencyToReplyThroughTheDatabasePath_IsReported()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, online: true, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var samples = new List<double>();
        var count = MeasureLoad.Pick(quick: 10, full: 30);
        for (var i = 0; i < count; i++)
        {
            var id = Guid.NewGuid();
            var agent = RunAgentAsync(env, machine.Id, id, "done", timeout.Token);
            var clock = Stopwatch.StartNew();
            var response = await env.Operator.SendPromptAsync(
                new SendPromptRequest { PromptId = id.ToString(), Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = "ping " + i, WaitUntil = PromptStatus.Replied },
                SteeringEnv.Call(timeout.Token));
            samples.Add(clock.Elapsed.TotalMilliseconds);
            await agent;
            response.Prompt.Status.Should().Be(PromptStatus.Replied);
        }

        samples.Sort();
        output.WriteLine($"SendPrompt(wait REPLIED) -> reply via DB + signals, {MeasureLoad.Mode}, n={samples.Count}: median {samples[samples.Count / 2]:0.0} ms, p90 {samples[(int)(samples.Count * 0.9)]:0.0} ms, max {samples[^1]:0.0} ms");
    }

    /// <summary>An "agent" that waits for the machine's outbound signal, then delivers and answers the prompt.</summary>
    private static async Task RunAgentAsync(SteeringEnv env, Guid machineId, Guid promptId, string reply, CancellationToken cancellationToken)
    {
        var topic = BrokerSignals.MachineOutbound(machineId.ToString());
        var seen = env.Signals.Version(topic);
        await using var db = env.Database.CreateContext();
        while (!await db.Prompts.AnyAsync(p => p.Id == promptId, cancellationToken))
        {
            seen = await env.Signals.WaitAsync(topic, seen, cancellationToken);
        }

        await AgentSimulation.DeliverAsync(env.Database, env.Signals, promptId, cancellationToken);
        await AgentSimulation.ReplyAsync(env.Database, env.Signals, promptId, reply, cancellationToken);
    }
}
