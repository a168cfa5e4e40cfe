using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using ApprovalOrigin = Relay.Protocol.V1.ApprovalOrigin;
using Db = Relay.Broker.Persistence.Entities;
using Launch = Relay.Broker.Persistence.Entities.Launch;

namespace Relay.Broker.Tests.AgentLink;

[Collection(PostgresCollection.Name)]
public sealed class DeliveryTests(PostgresFixture postgres) : ConnectedAgentTest<DeliveryTests>(postgres)
{
    [Fact]
    public async Task QueuedPrompt_SentDeliveredReplied_StatusesAndReplyLinked()
    {
        var (session, claudeId) = await StartSessionAsync(Agent, pid: 1);
        var prompt = await QueuePromptAsync(session, "Please run the tests");

        var delivery = await Agent.NextAsync(m => m.PromptDelivery is not null, Token);
        (await PromptAsync(prompt.Id)).Should().Match<Db.Prompt>(p => p.Status == Db.PromptStatus.Sent && p.SentAt != null && p.DeliveryAttempts == 1);
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            PromptReceipt = new PromptReceipt { PromptId = prompt.Id.ToString("D"), Status = Protocol.V1.PromptStatus.Delivered, DeliveryPath = Protocol.V1.DeliveryPath.Channel, Session = Evidence(claudeId) },
        });
        var afterReceipt = await PromptAsync(prompt.Id);
        var replyId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            Reply = new SessionReply { ReplyId = replyId.ToString("D"), Session = Evidence(claudeId), InReplyTo = prompt.Id.ToString("D"), Text = "All green.", Source = Protocol.V1.ReplySource.ReplyTool },
        });

        delivery.Seq.Should().BeGreaterThan(0);
        delivery.PromptDelivery.PromptId.Should().Be(prompt.Id.ToString("D"));
        delivery.PromptDelivery.Text.Should().Be("Please run the tests");
        delivery.PromptDelivery.ClaudeSessionId.Should().Be(claudeId.ToString("D"));
        delivery.PromptDelivery.Sender.DisplayName.Should().Be("alice");
        afterReceipt.Status.Should().Be(Db.PromptStatus.Delivered);
        afterReceipt.DeliveryPath.Should().Be(Db.DeliveryPath.Channel);
        var final = await PromptAsync(prompt.Id);
        final.Status.Should().Be(Db.PromptStatus.Replied);
        final.RepliedAt.Should().NotBeNull();
        await using var db = Database.CreateContext();
        (await db.Replies.SingleAsync(r => r.Id == replyId, Token)).PromptId.Should().Be(prompt.Id);
    }

    [Fact]
    public async Task Replies_SeveralInOneBatchOneRepeated_EachStoredOnceAndLinked()
    {
        var (session, claudeId) = await StartSessionAsync(Agent, pid: 40);
        var first = await QueuePromptAsync(session, "first");
        var second = await QueuePromptAsync(session, "second");
        await Agent.NextAsync(m => m.PromptDelivery?.PromptId == second.Id.ToString("D"), Token);
        var (replyA, replyB) = (Guid.NewGuid(), Guid.NewGuid());
        AgentMessage Reply(Guid id, Db.Prompt to, string text) =>
            new() { Reply = new SessionReply { ReplyId = id.ToString("D"), Session = Evidence(claudeId), InReplyTo = to.Id.ToString("D"), Text = text, Source = Protocol.V1.ReplySource.ReplyTool } };

        // One write, so the broker stores them in one batch (the case it prefetches prompts and known replies for).
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token,
            new AgentMessage { PromptReceipt = new PromptReceipt { PromptId = first.Id.ToString("D"), Status = Protocol.V1.PromptStatus.Delivered, DeliveryPath = Protocol.V1.DeliveryPath.Channel, Session = Evidence(claudeId) } },
            Reply(replyA, first, "one"),
            Reply(replyA, first, "one again"),
            Reply(replyB, second, "two"));
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, Reply(replyB, second, "two, after a new spool epoch"));

        await using var db = Database.CreateContext();
        var replies = await db.Replies.AsNoTracking().Where(r => r.RelaySessionId == session.Id).ToListAsync(Token);
        replies.Select(r => r.Id).Should().BeEquivalentTo([replyA, replyB]);
        replies.Single(r => r.Id == replyA).Text.Should().Be("one");
        replies.Single(r => r.Id == replyB).PromptId.Should().Be(second.Id);
        (await PromptAsync(first.Id)).Should().Match<Db.Prompt>(p => p.Status == Db.PromptStatus.Replied && p.DeliveryPath == Db.DeliveryPath.Channel);
        (await PromptAsync(second.Id)).Status.Should().Be(Db.PromptStatus.Replied);
    }

    [Fact]
    public async Task UnackedPrompt_RedeliveredAfterReconnect_WithTheSameSeq()
    {
        var (session, _) = await StartSessionAsync(Agent, pid: 2);
        Agent.AutoAck = false;
        var prompt = await QueuePromptAsync(session, "first try");
        var first = await Agent.NextAsync(m => m.PromptDelivery is not null, Token);

        await Agent.AbortAsync();
        await Agent.ConnectAsync(Host, Token);
        var again = await Agent.NextAsync(m => m.PromptDelivery is not null, Token);
        await Agent.AckAsync(again.Seq, Token);
        var attempts = (await PromptAsync(prompt.Id)).DeliveryAttempts;

        await Agent.AbortAsync();
        Agent.AutoAck = true;
        await Agent.ConnectAsync(Host, Token);
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, Hook(Evidence(Guid.NewGuid()), "Stop"));

        again.Seq.Should().Be(first.Seq);
        again.PromptDelivery.PromptId.Should().Be(prompt.Id.ToString("D"));
        attempts.Should().Be(2);
        Agent.Received().Should().NotContain(m => m.PromptDelivery != null, "an acked prompt is not sent again");
        (await Database.ScalarAsync<long>($"SELECT count(*) FROM agent_outbox WHERE machine_id = '{Agent.MachineId}'", Token)).Should().Be(0);
    }

    [Fact]
    public async Task PermissionRequest_PendingThenDecided_VerdictRoutedToAgent()
    {
        var (session, claudeId) = await StartSessionAsync(Agent, pid: 3);
        var approvalId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            PermissionRequest = new PermissionRequest
            {
                ApprovalId = approvalId.ToString("D"), Session = Evidence(claudeId), Origin = ApprovalOrigin.Channel, ClaudeRequestId = "abcde",
                ToolName = "Bash", Description = "Run shell command", InputPreview = "{\"command\":\"ls\"}",
            },
        });
        await using (var db = Database.CreateContext())
        {
            var approval = await db.Approvals.SingleAsync(a => a.Id == approvalId, Token);
            approval.Status.Should().Be(Db.ApprovalStatus.Pending);
            (await db.Sessions.SingleAsync(s => s.Id == session.Id, Token)).Status.Should().Be(Db.SessionStatus.WaitingForApproval);
            approval.Status = Db.ApprovalStatus.Allowed;
            approval.DecidedBy = "token:" + Guid.NewGuid().ToString("D");
            approval.DecidedAt = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync(Token);
        }

        AgentLinkHarness.Notify(Host, Agent.MachineId);
        var verdict = await Agent.NextAsync(m => m.PermissionVerdict is not null, Token);

        verdict.PermissionVerdict.ApprovalId.Should().Be(approvalId.ToString("D"));
        verdict.PermissionVerdict.ClaudeRequestId.Should().Be("abcde");
        verdict.PermissionVerdict.Decision.Should().Be(ApprovalDecision.Allow);
        verdict.PermissionVerdict.DecidedBy.Kind.Should().Be(PrincipalKind.User);
        (await Database.ScalarAsync<bool>($"SELECT verdict_sent_at IS NOT NULL FROM approvals WHERE id = '{approvalId}'", Token)).Should().BeTrue();
    }

    [Fact]
    public async Task LaunchAndStop_RequestsDeliveredAndOutcomesRecorded()
    {
        var launchId = Guid.NewGuid();
        var reservedId = Guid.NewGuid();
        await using (var db = Database.CreateContext())
        {
            db.Sessions.Add(new RelaySession
            {
                Id = reservedId, MachineId = Agent.MachineId, Cwd = "/work/launch", LaunchId = launchId, Status = Db.SessionStatus.Starting,
                CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
            });
            db.Launches.Add(new Launch
            {
                Id = launchId, MachineId = Agent.MachineId, Cwd = "/work/launch", Name = "builder", Status = Db.LaunchStatus.Requested,
                RequestedBy = "token:" + Guid.NewGuid().ToString("D"), RelaySessionId = reservedId, CreatedAt = DateTimeOffset.UtcNow, ClaudeArgs = ["--model", "opus"],
            });
            await db.SaveChangesAsync(Token);
        }

        AgentLinkHarness.Notify(Host, Agent.MachineId);
        var request = await Agent.NextAsync(m => m.LaunchRequest is not null, Token);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            LaunchResult = new LaunchResult { LaunchId = launchId.ToString("D"), Started = true, Session = Evidence(claudeId, pid: 4242, cwd: "/work/launch", launchId: launchId), TmuxTarget = "relay:1" },
        });
        var stopId = Guid.NewGuid();
        await using (var db = Database.CreateContext())
        {
            db.StopRequests.Add(new Db.StopRequest { Id = stopId, MachineId = Agent.MachineId, RelaySessionId = reservedId, RequestedBy = "system", CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync(Token);
        }

        AgentLinkHarness.Notify(Host, Agent.MachineId);
        var stop = await Agent.NextAsync(m => m.StopRequest is not null, Token);
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage { StopResult = new StopResult { StopId = stopId.ToString("D"), Stopped = true } });

        request.LaunchRequest.SessionId.Should().Be(reservedId.ToString("D"));
        request.LaunchRequest.ClaudeArgs.Should().Equal("--model", "opus");
        stop.StopRequest.Session.ClaudeSessionId.Should().Be(claudeId.ToString("D"));
        stop.StopRequest.Session.ClaudePid.Should().Be(4242);
        await using var check = Database.CreateContext();
        var launch = await check.Launches.SingleAsync(l => l.Id == launchId, Token);
        launch.Status.Should().Be(Db.LaunchStatus.Started);
        launch.TmuxTarget.Should().Be("relay:1");
        var session = await check.Sessions.SingleAsync(s => s.Id == reservedId, Token);
        session.Status.Should().Be(Db.SessionStatus.Ended);
        session.EndReason.Should().Be("stopped");
        (await check.Sessions.CountAsync(s => s.MachineId == Agent.MachineId, Token)).Should().Be(1, "the launch joined its reserved session");
    }

    [Fact]
    public async Task SessionMessage_AcrossMachines_DeliveredThreadedAndReplyForwarded()
    {
        await using var other = await SimulatedAgent.EnrollAsync(Database, cancellationToken: Token);
        await other.ConnectAsync(Host, Token);
        var (sender, senderClaudeId) = await StartSessionAsync(Agent, pid: 10);
        var (target, targetClaudeId) = await StartSessionAsync(other, pid: 20);
        await using (var db = Database.CreateContext())
        {
            (await db.Sessions.SingleAsync(s => s.Id == target.Id, Token)).Name = "reviewer-" + target.Id.ToString("N")[..6];
            await db.SaveChangesAsync(Token);
        }

        var messageId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            SessionMessage = new SessionMessage
            {
                MessageId = messageId.ToString("D"), Sender = Evidence(senderClaudeId),
                Target = new SessionSelector { Name = "reviewer-" + target.Id.ToString("N")[..6] }, Text = "Can you review PR 7?",
            },
        });
        var status = await Agent.NextAsync(m => m.SessionMessageStatus is not null, Token);
        var delivered = await other.NextAsync(m => m.PromptDelivery is not null, Token);
        await AgentLinkHarness.SendAndCommitAsync(other, Token, new AgentMessage
        {
            Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), Session = Evidence(targetClaudeId), InReplyTo = messageId.ToString("D"), Text = "Looks good." },
        });
        var forwarded = await Agent.NextAsync(m => m.PromptDelivery is not null, Token);

        status.SessionMessageStatus.Status.Should().Be(Protocol.V1.PromptStatus.Queued);
        status.SessionMessageStatus.TargetSessionId.Should().Be(target.Id.ToString("D"));
        status.SessionMessageStatus.TargetMachineName.Should().Be(other.MachineName);
        delivered.PromptDelivery.PromptId.Should().Be(messageId.ToString("D"));
        delivered.PromptDelivery.IsSessionMessage.Should().BeTrue();
        delivered.PromptDelivery.Sender.Kind.Should().Be(PrincipalKind.Session);
        delivered.PromptDelivery.Sender.Id.Should().Be(sender.Id.ToString("D"));
        delivered.PromptDelivery.Sender.MachineName.Should().Be(Agent.MachineName);
        forwarded.PromptDelivery.InReplyTo.Should().Be(messageId.ToString("D"));
        forwarded.PromptDelivery.Text.Should().Be("Looks good.");
        forwarded.PromptDelivery.SessionId.Should().Be(sender.Id.ToString("D"));
        (await PromptAsync(messageId)).Status.Should().Be(Db.PromptStatus.Replied);
    }

    [Fact]
    public async Task SessionMessage_UnknownTarget_FailedStatusToSender()
    {
        var (_, claudeId) = await StartSessionAsync(Agent, pid: 30);

        await AgentLinkHarness.SendAndCommitAsync(Agent, Token, new AgentMessage
        {
            SessionMessage = new SessionMessage { MessageId = Guid.NewGuid().ToString("D"), Sender = Evidence(claudeId), Target = new SessionSelector { Name = "nobody-by-this-name" }, Text = "hello?" },
        });
        var status = await Agent.NextAsync(m => m.SessionMessageStatus is not null, Token);

        status.SessionMessageStatus.Status.Should().Be(Protocol.V1.PromptStatus.Failed);
        status.SessionMessageStatus.ErrorCode.Should().Be(ErrorCode.NotFound);
    }

    private async Task<(RelaySession Session, Guid ClaudeId)> StartSessionAsync(SimulatedAgent agent, int pid)
    {
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, Token, SessionStart(Evidence(claudeId, pid: pid), SessionStartSource.Startup));
        await using var db = Database.CreateContext();
        var session = await db.Sessions.AsNoTracking().SingleAsync(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id), Token);
        return (session, claudeId);
    }

    private async Task<Db.Prompt> QueuePromptAsync(RelaySession session, string text)
    {
        var prompt = new Db.Prompt
        {
            Id = Guid.NewGuid(), IdempotencyKey = Guid.NewGuid().ToString("D"), RelaySessionId = session.Id, SenderKind = SenderKind.Person,
            SenderId = Guid.NewGuid().ToString("D"), SenderName = "alice", Text = text, Status = Db.PromptStatus.Queued,
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
        };
        await using var db = Database.CreateContext();
        db.Prompts.Add(prompt);
        await db.SaveChangesAsync(Token);
        AgentLinkHarness.Notify(Host, session.MachineId);
        return prompt;
    }

    private async Task<Db.Prompt> PromptAsync(Guid id)
    {
        await using var db = Database.CreateContext();
        return await db.Prompts.AsNoTracking().SingleAsync(p => p.Id == id, Token);
    }
}
