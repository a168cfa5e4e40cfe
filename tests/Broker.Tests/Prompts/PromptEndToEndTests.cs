using System.Diagnostics;
using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Broker.Tests.Watch;
using Relay.Protocol.V1;
using Xunit.Abstractions;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.Prompts;

/// <summary>Admin and AgentLink together: a simulated agent on a real stream takes prompts and verdicts to "Claude".</summary>
[Collection(PostgresCollection.Name)]
public sealed class PromptEndToEndTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task SendPrompt_WaitUntilReplied_AgentDeliversAndRepliesAndWatchShowsEveryStep()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<PromptEndToEndTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, selector, session) = await StartSessionAsync(env, agent, pid: 4242, timeout.Token);
        using var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { Session = selector, Kinds = { EventKind.PromptCreated, EventKind.PromptUpdated, EventKind.Reply } }, SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);
        var promptId = Guid.NewGuid().ToString();
        var answering = AnswerAsync(agent, claudeId, "All green.", timeout.Token);

        var response = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = promptId, Session = new SessionSelector { Lookup = session.SessionId[..18] }, Text = "Please run the tests", WaitUntil = PromptStatus.Replied },
            SteeringEnv.Call(timeout.Token));
        var delivery = await answering;
        await watch.UntilAsync(w => w.Events.Any(e => e.Kind == EventKind.Reply), timeout.Token);

        delivery.PromptId.Should().Be(promptId);
        delivery.Sender.DisplayName.Should().Be(env.OperatorName);
        response.WaitTimedOut.Should().BeFalse();
        response.Prompt.Status.Should().Be(PromptStatus.Replied);
        response.Prompt.DeliveryPath.Should().Be(DeliveryPath.Channel);
        response.Replies.Should().ContainSingle().Which.Text.Should().Be("All green.");
        watch.Events[0].Kind.Should().Be(EventKind.PromptCreated);
        watch.Events.Where(e => e.Kind == EventKind.PromptUpdated).Select(e => e.Prompt.Status).Should().ContainInOrder(PromptStatus.Sent, PromptStatus.Delivered);
        watch.Events.Single(e => e.Kind == EventKind.Reply).Reply.InReplyTo.Should().Be(promptId);
    }

    [Fact]
    public async Task SendPrompt_MachineStreamOnThisReplica_NumberedInTheSendersTransactionAndSentOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<PromptEndToEndTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, selector, session) = await StartSessionAsync(env, agent, pid: 4244, timeout.Token);

        var first = await env.Operator.SendPromptAsync(new SendPromptRequest { Session = selector, Text = "first" }, SteeringEnv.Call(timeout.Token));
        var second = await env.Operator.SendPromptAsync(new SendPromptRequest { Session = selector, Text = "second" }, SteeringEnv.Call(timeout.Token));
        var deliveries = new List<BrokerMessage>
        {
            await agent.NextAsync(m => m.PromptDelivery?.PromptId == first.Prompt.PromptId, timeout.Token),
            await agent.NextAsync(m => m.PromptDelivery?.PromptId == second.Prompt.PromptId, timeout.Token),
        };
        // A Stop hook stored after both: everything the broker queued for the stream before it has gone out by then.
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(claudeId), "Stop"));

        first.Prompt.Status.Should().Be(PromptStatus.Sent, "the machine's stream is on this replica, so the prompt is numbered for it when stored");
        first.Prompt.DeliveryAttempts.Should().Be(1);
        second.Prompt.Status.Should().Be(PromptStatus.Sent);
        deliveries[1].Seq.Should().Be(deliveries[0].Seq + 1, "prompts go out in the order they were stored");
        agent.Received().Count(m => m.PromptDelivery is not null).Should().Be(2, "each prompt is sent once");
        (await SteeringSeed.ScalarAsync(env.Database, """
            SELECT count(DISTINCT xmin::text) FROM events
            WHERE relay_session_id = $1 AND kind IN ('prompt_created', 'prompt_updated') AND payload->>'text' = 'first'
            """, Guid.Parse(session.SessionId))).Should().Be(1, "created and sent are one transaction");
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT delivery_attempts FROM prompts WHERE id = $1", Guid.Parse(first.Prompt.PromptId))).Should().Be(1);
    }

    [Fact]
    public async Task SendPrompt_OlderPromptQueuedWithoutSignal_BothNumberedOldestFirst()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<PromptEndToEndTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, selector, session) = await StartSessionAsync(env, agent, pid: 4245, timeout.Token);
        // A prompt whose signal was lost (stored by another replica, say): the next writer's fill must take it too, first.
        var older = Guid.NewGuid();
        await using (var db = env.Database.CreateContext())
        {
            db.Prompts.Add(new Relay.Broker.Persistence.Entities.Prompt
            {
                Id = older, IdempotencyKey = older.ToString("D"), RelaySessionId = Guid.Parse(session.SessionId), SenderKind = Relay.Broker.Persistence.Entities.SenderKind.Person,
                SenderId = Guid.NewGuid().ToString("D"), SenderName = "alice", Text = "older", Status = Relay.Broker.Persistence.Entities.PromptStatus.Queued,
                CreatedAt = DateTimeOffset.UtcNow.AddSeconds(-1), ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
            });
            await db.SaveChangesAsync(timeout.Token);
        }

        var newer = await env.Operator.SendPromptAsync(new SendPromptRequest { Session = selector, Text = "newer" }, SteeringEnv.Call(timeout.Token));
        var first = await agent.NextAsync(m => m.PromptDelivery is not null, timeout.Token);
        var second = await agent.NextAsync(m => m.PromptDelivery is not null && m.Seq > first.Seq, timeout.Token);

        newer.Prompt.Status.Should().Be(PromptStatus.Sent);
        first.PromptDelivery.PromptId.Should().Be(older.ToString("D"), "queued work goes out in the order it was queued");
        second.PromptDelivery.PromptId.Should().Be(newer.Prompt.PromptId);
        second.PromptDelivery.ClaudeSessionId.Should().Be(claudeId.ToString("D"));
        second.Seq.Should().Be(first.Seq + 1);
    }

    [Fact]
    public async Task DecideApproval_PermissionRequestFromAgent_VerdictReachesTheAgent()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<PromptEndToEndTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(env.Broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        var approvalId = Guid.NewGuid().ToString();
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            SessionStart(Evidence(claudeId, pid: 4343), SessionStartSource.Startup),
            new AgentMessage { PermissionRequest = new PermissionRequest { ApprovalId = approvalId, Session = Evidence(claudeId), Origin = ApprovalOrigin.Channel, ClaudeRequestId = "qwert", ToolName = "Bash", Description = "ls" } });

        var pending = await env.Viewer.ListApprovalsAsync(new ListApprovalsRequest { Machine = agent.MachineName }, SteeringEnv.Call(timeout.Token));
        await env.Operator.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = approvalId, Decision = ApprovalDecision.Deny, Reason = "not now" }, SteeringEnv.Call(timeout.Token));
        var verdict = await agent.NextAsync(m => m.PermissionVerdict is not null, timeout.Token);

        pending.Approvals.Should().ContainSingle().Which.ApprovalId.Should().Be(approvalId);
        verdict.PermissionVerdict.ApprovalId.Should().Be(approvalId);
        verdict.PermissionVerdict.Decision.Should().Be(ApprovalDecision.Deny);
        verdict.PermissionVerdict.Reason.Should().Be("not now");
        verdict.PermissionVerdict.DecidedBy.DisplayName.Should().Be(env.OperatorName);
    }

    [Fact]
    [Trait("Category", "Measure")]
    public async Task SendPrompt_LatencyThroughAgentLink_IsReported()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<PromptEndToEndTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(env.Broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(Evidence(claudeId, pid: 4444), SessionStartSource.Startup));
        var samples = new List<double>();
        var (count, warmUp) = (MeasureLoad.Pick(quick: 12, full: 40), MeasureLoad.Pick(quick: 2, full: 5));
        for (var i = 0; i < count; i++)
        {
            var answering = AnswerAsync(agent, claudeId, "pong", timeout.Token);
            var clock = Stopwatch.StartNew();
            var response = await env.Operator.SendPromptAsync(
                new SendPromptRequest { Session = new SessionSelector { ClaudeSessionId = claudeId.ToString() }, Text = "ping " + i, WaitUntil = PromptStatus.Replied },
                SteeringEnv.Call(timeout.Token));
            samples.Add(clock.Elapsed.TotalMilliseconds);
            await answering;
            response.Prompt.Status.Should().Be(PromptStatus.Replied);
        }

        samples = samples.Skip(warmUp).Order().ToList(); // the first calls include JIT and connection warm-up
        output.WriteLine($"SendPrompt(wait REPLIED) through AgentLink (delivery, receipt, reply; every hop committed), {MeasureLoad.Mode}, n={samples.Count}: " +
                         $"median {samples[samples.Count / 2]:0.0} ms, p90 {samples[(int)(samples.Count * 0.9)]:0.0} ms, max {samples[^1]:0.0} ms");
    }

    /// <summary>The agent's part: take the next prompt delivery, report it delivered, reply naming it.</summary>
    private static async Task<PromptDelivery> AnswerAsync(SimulatedAgent agent, Guid claudeId, string text, CancellationToken cancellationToken)
    {
        var delivery = (await agent.NextAsync(m => m.PromptDelivery is not null, cancellationToken)).PromptDelivery;
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken,
            new AgentMessage { PromptReceipt = new PromptReceipt { PromptId = delivery.PromptId, Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence(claudeId) } },
            new AgentMessage { Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString(), Session = Evidence(claudeId), InReplyTo = delivery.PromptId, Text = text, Source = ReplySource.ReplyTool } });
        return delivery;
    }

    /// <summary>Connects <paramref name="agent"/> and starts a Claude session on its machine, as the operator sees it.</summary>
    private static async Task<(Guid ClaudeId, SessionSelector Selector, Session Session)> StartSessionAsync(
        SteeringEnv env, SimulatedAgent agent, int pid, CancellationToken cancellationToken)
    {
        await agent.ConnectAsync(env.Broker, cancellationToken);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid: pid), SessionStartSource.Startup));
        var selector = new SessionSelector { ClaudeSessionId = claudeId.ToString() };
        var session = (await env.Viewer.GetSessionAsync(new GetSessionRequest { Session = selector }, SteeringEnv.Call(cancellationToken))).Session;
        return (claudeId, selector, session);
    }
}
