using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using PolicyMessage = Relay.Protocol.V1.Policy;
using PromptStatus = Relay.Protocol.V1.PromptStatus;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>The messaging policy (SetPolicy) applied to SessionMessage from an agent. Each test has its own database: the policy is global.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SessionMessagePolicyTests(PostgresFixture postgres)
{
    [Fact]
    public async Task SessionMessage_NoPolicy_SameTeamSessionsMayMessage()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: true, timeout.Token);
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        var (_, senderClaudeId) = await StartSessionAsync(database, agent, pid: 11, name: null, timeout.Token);
        await StartSessionAsync(database, agent, pid: 12, name: "prod-deployer", timeout.Token);
        var messageId = Guid.NewGuid();

        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Message(messageId, senderClaudeId, "prod-deployer"));
        var status = (await agent.NextAsync(m => m.SessionMessageStatus is not null, timeout.Token)).SessionMessageStatus;

        status.Status.Should().Be(PromptStatus.Queued);
        await using var db = database.CreateContext();
        (await db.Prompts.AnyAsync(p => p.Id == messageId, timeout.Token)).Should().BeTrue();
    }

    [Fact]
    public async Task SessionMessage_PolicyRuleDeniesMessaging_SenderToldRefusedAndAudited()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: true, timeout.Token);
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var (_, adminSecret) = await AccessSeed.TokenAsync(database, Role.Admin, cancellationToken: timeout.Token);
        var admin = broker.Admin(adminSecret);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await using var other = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);
        await other.ConnectAsync(broker, timeout.Token);
        var (sender, senderClaudeId) = await StartSessionAsync(database, agent, pid: 21, name: "intern", timeout.Token);
        var (target, _) = await StartSessionAsync(database, other, pid: 22, name: "prod-deployer", timeout.Token);
        await StartSessionAsync(database, other, pid: 23, name: "helper", timeout.Token);
        await admin.SetPolicyAsync(new SetPolicyRequest
        {
            Policy = new PolicyMessage
            {
                Rules =
                {
                    new PolicyRule
                    {
                        Description = "nobody messages prod",
                        Action = PolicyAction.Message,
                        Subject = new PolicySubject { Kind = PrincipalKind.Session },
                        Target = new PolicyTarget { SessionName = "prod-*" },
                        Effect = PolicyEffect.Deny,
                    },
                },
            },
        }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        var refusedId = Guid.NewGuid();
        var allowedId = Guid.NewGuid();

        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            Message(refusedId, senderClaudeId, "prod-deployer"),
            Message(allowedId, senderClaudeId, "helper"));
        var refused = (await agent.NextAsync(m => m.SessionMessageStatus?.MessageId == refusedId.ToString("D"), timeout.Token)).SessionMessageStatus;
        var allowed = (await agent.NextAsync(m => m.SessionMessageStatus?.MessageId == allowedId.ToString("D"), timeout.Token)).SessionMessageStatus;
        var audit = await admin.ListAuditEventsAsync(
            new ListAuditEventsRequest { ActionPrefix = "prompt.", ActorId = sender.Id.ToString() }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);

        refused.Status.Should().Be(PromptStatus.Failed);
        refused.ErrorCode.Should().Be(ErrorCode.PermissionDenied);
        refused.Reason.Should().Contain("nobody messages prod").And.Contain("refused");
        refused.TargetSessionId.Should().Be(target.Id.ToString("D"));
        allowed.Status.Should().Be(PromptStatus.Queued, "a rule refuses only what it matches; the default lets the team's sessions message each other");
        await using (var db = database.CreateContext())
        {
            (await db.Prompts.AnyAsync(p => p.Id == refusedId, timeout.Token)).Should().BeFalse();
            (await db.Prompts.AnyAsync(p => p.Id == allowedId, timeout.Token)).Should().BeTrue();
        }

        var denied = audit.Events.Should().ContainSingle(e => e.Outcome == AuditOutcome.Denied).Which;
        denied.Action.Should().Be("prompt.send");
        denied.Actor.Kind.Should().Be(PrincipalKind.Session);
        denied.TargetId.Should().Be(refusedId.ToString("D"));
        denied.SessionId.Should().Be(target.Id.ToString());
        denied.DetailsJson.Should().Contain("nobody messages prod");
        audit.Events.Should().ContainSingle(e => e.Outcome == AuditOutcome.Succeeded).Which.TargetId.Should().Be(allowedId.ToString("D"));
    }

    private static AgentMessage Message(Guid messageId, Guid senderClaudeId, string targetName) => new()
    {
        SessionMessage = new SessionMessage
        {
            MessageId = messageId.ToString("D"),
            Sender = Evidence(senderClaudeId),
            Target = new SessionSelector { Name = targetName },
            Text = "Can you deploy PR 7?",
        },
    };

    private static async Task<(RelaySession Session, Guid ClaudeId)> StartSessionAsync(
        TestDatabase database, SimulatedAgent agent, int pid, string? name, CancellationToken cancellationToken)
    {
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid: pid), SessionStartSource.Startup));
        await using var db = database.CreateContext();
        var session = await db.Sessions.SingleAsync(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id), cancellationToken);
        session.Name = name;
        await db.SaveChangesAsync(cancellationToken);
        return (session, claudeId);
    }
}
