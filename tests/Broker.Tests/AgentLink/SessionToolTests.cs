using Microsoft.EntityFrameworkCore;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;
using PolicyMessage = Relay.Protocol.V1.Policy;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>relay-channel's session tools forwarded by an agent as ToolCall. Each test has its own database: the policy is global.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SessionToolTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ToolCall_ListSessionsAndHistory_ShowWhatThePolicyLetsTheCallingSessionView()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await Env.StartAsync(postgres, timeout.Token);
        var (_, devClaudeId) = await env.StartSessionAsync(env.Home, pid: 31, "dev");
        var (reviewer, _) = await env.StartSessionAsync(env.Other, pid: 32, "reviewer");
        await env.StartSessionAsync(env.Other, pid: 33, "prod-db");
        await AgentLinkHarness.SendAndCommitAsync(env.Home, timeout.Token, new AgentMessage
        {
            SessionMessage = new SessionMessage
            {
                MessageId = Guid.NewGuid().ToString("D"), Sender = Evidence(devClaudeId), Target = new SessionSelector { Name = "reviewer" }, Text = "Please review PR 9.",
            },
        });
        await env.SetPolicyAsync(new PolicyRule
        {
            Description = "prod is private",
            Action = PolicyAction.View,
            Subject = new PolicySubject { Kind = PrincipalKind.Session },
            Target = new PolicyTarget { SessionName = "prod-*" },
            Effect = PolicyEffect.Deny,
        });

        var all = (await env.CallAsync(devClaudeId, c => c.ListSessions = new ListSessionsToolRequest())).ListSessions;
        var named = (await env.CallAsync(devClaudeId, c => c.ListSessions = new ListSessionsToolRequest { NameContains = "REV" })).ListSessions;
        var history = (await env.CallAsync(devClaudeId, c => c.SessionHistory = new SessionHistoryToolRequest { Session = new SessionSelector { Name = "reviewer" } })).SessionHistory;
        var hidden = await env.CallAsync(devClaudeId, c => c.SessionHistory = new SessionHistoryToolRequest { Session = new SessionSelector { Name = "prod-db" } });
        var stranger = await env.CallAsync(Guid.NewGuid(), c => c.ListSessions = new ListSessionsToolRequest());

        all.Sessions.Select(s => s.Name).Should().BeEquivalentTo("dev", "reviewer");
        all.Truncated.Should().BeFalse();
        named.Sessions.Should().ContainSingle().Which.SessionId.Should().Be(reviewer.ToString("D"));
        history.Session.Name.Should().Be("reviewer");
        history.Events.Should().ContainSingle().Which.Prompt.Text.Should().Be("Please review PR 9.");
        history.Events[0].Prompt.Sender.Kind.Should().Be(PrincipalKind.Session);
        history.OlderCursor.Should().BeEmpty();
        hidden.Error.Code.Should().Be(ErrorCode.PermissionDenied);
        hidden.Error.Message.Should().Contain("prod is private");
        stranger.Error.Code.Should().Be(ErrorCode.NotFound);
    }

    [Fact]
    public async Task ToolCall_LaunchSession_RefusedByDefault_AllowedByALaunchRuleWithTheSessionAsSender()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await Env.StartAsync(postgres, timeout.Token);
        var (dev, devClaudeId) = await env.StartSessionAsync(env.Home, pid: 41, "dev");
        LaunchSessionToolRequest Launch() => new() { LaunchId = "tool-launch-" + Guid.NewGuid().ToString("N")[..8], Machine = env.Other.MachineName, Cwd = "/srv/app", Name = "helper", Prompt = "Run the tests." };

        var refused = await env.CallAsync(devClaudeId, c => c.LaunchSession = Launch());
        await env.SetPolicyAsync(new PolicyRule
        {
            Description = "dev may launch helpers",
            Action = PolicyAction.Launch,
            Subject = new PolicySubject { Kind = PrincipalKind.Session, SessionName = "dev" },
            Target = new PolicyTarget { SessionName = "helper*" },
            Effect = PolicyEffect.Allow,
        });
        var request = Launch();
        var launched = (await env.CallAsync(devClaudeId, c => c.LaunchSession = request)).LaunchSession.Launch;
        var again = (await env.CallAsync(devClaudeId, c => c.LaunchSession = request)).LaunchSession.Launch;
        var delivered = (await env.Other.NextAsync(m => m.LaunchRequest is not null, timeout.Token)).LaunchRequest;

        refused.Error.Code.Should().Be(ErrorCode.PermissionDenied);
        refused.Error.Message.Should().Contain("Sessions may not launch");
        launched.Status.Should().BeOneOf(LaunchStatus.Requested, LaunchStatus.Sent);
        launched.RequestedBy.Kind.Should().Be(PrincipalKind.Session);
        launched.RequestedBy.Id.Should().Be(dev.ToString());
        again.LaunchId.Should().Be(launched.LaunchId, "launch_session is idempotent by its launch_id");
        delivered.Name.Should().Be("helper");
        delivered.InitialPrompt.Text.Should().Be("Run the tests.");
        delivered.InitialPrompt.IsSessionMessage.Should().BeTrue();
        delivered.InitialPrompt.Sender.Id.Should().Be(dev.ToString());
        var audit = await env.Admin.ListAuditEventsAsync(new ListAuditEventsRequest { ActionPrefix = "session.launch", ActorId = dev.ToString() }, deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        audit.Events.Select(e => e.Outcome).Should().BeEquivalentTo([AuditOutcome.Succeeded, AuditOutcome.Denied]);
    }

    /// <summary>A broker on a fresh database, an admin, and two connected agents.</summary>
    private sealed class Env : IAsyncDisposable
    {
        private readonly CancellationToken _token;

        private Env(TestDatabase database, TestBroker broker, Protocol.V1.Admin.AdminClient admin, SimulatedAgent home, SimulatedAgent other, CancellationToken token)
        {
            (Database, Broker, Admin, Home, Other, _token) = (database, broker, admin, home, other, token);
        }

        public TestDatabase Database { get; }

        public TestBroker Broker { get; }

        public Protocol.V1.Admin.AdminClient Admin { get; }

        /// <summary>The agent whose session calls the tools.</summary>
        public SimulatedAgent Home { get; }

        public SimulatedAgent Other { get; }

        public static async Task<Env> StartAsync(PostgresFixture postgres, CancellationToken token)
        {
            var database = await postgres.CreateDatabaseAsync(migrate: true, token);
            var broker = await TestBroker.StartAsync(database, cancellationToken: token);
            var (_, secret) = await AccessSeed.TokenAsync(database, Role.Admin, cancellationToken: token);
            var home = await SimulatedAgent.EnrollAsync(database, cancellationToken: token);
            var other = await SimulatedAgent.EnrollAsync(database, cancellationToken: token);
            await home.ConnectAsync(broker, token);
            await other.ConnectAsync(broker, token);
            return new Env(database, broker, broker.Admin(secret), home, other, token);
        }

        public async Task<(Guid SessionId, Guid ClaudeId)> StartSessionAsync(SimulatedAgent agent, int pid, string name)
        {
            var claudeId = Guid.NewGuid();
            await AgentLinkHarness.SendAndCommitAsync(agent, _token, SessionStart(Evidence(claudeId, pid: pid, cwd: "/srv/app"), SessionStartSource.Startup));
            await using var db = Database.CreateContext();
            var session = await db.Sessions.SingleAsync(s => db.SessionSegments.Any(g => g.ClaudeSessionId == claudeId && g.RelaySessionId == s.Id), _token);
            session.Name = name;
            await db.SaveChangesAsync(_token);
            return (session.Id, claudeId);
        }

        public Task<PolicyMessage> SetPolicyAsync(PolicyRule rule) =>
            Admin.SetPolicyAsync(new SetPolicyRequest { Policy = new PolicyMessage { Rules = { rule } } }, deadline: AccessSeed.Deadline, cancellationToken: _token).ResponseAsync;

        /// <summary>Sends a ToolCall for the session with <paramref name="callerClaudeId"/> on <see cref="Home"/> and waits for its result.</summary>
        public async Task<ToolResult> CallAsync(Guid callerClaudeId, Action<ToolCall> fill)
        {
            var call = new ToolCall { RequestId = Guid.NewGuid().ToString("N"), Caller = Evidence(callerClaudeId) };
            fill(call);
            await Home.WriteAsync(new AgentMessage { ToolCall = call }, _token);
            return (await Home.NextAsync(m => m.ToolResult?.RequestId == call.RequestId, _token)).ToolResult;
        }

        public async ValueTask DisposeAsync()
        {
            await Home.DisposeAsync();
            await Other.DisposeAsync();
            await Broker.DisposeAsync();
            await Database.DisposeAsync();
        }
    }
}
