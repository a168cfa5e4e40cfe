using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.Prompts;

/// <summary>
/// SendPrompt reads what it needs before its transaction in one round trip when the selector names an id: the prompt a
/// retry would repeat, the session and what is queued for its machine. These tests count its round trips in Npgsql's
/// command log and check that retries, unknown sessions and the other selectors answer as before.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SendPromptRoundTripTests(PostgresFixture postgres)
{
    // Token and policy lookups are cached this long, so that the counted call makes none.
    private static readonly Dictionary<string, string?> LongCaches = new() { ["Access:CacheDuration"] = "00:05:00" };

    [Theory]
    [InlineData("claude_session_id", true)]
    [InlineData("session_id", true)]
    [InlineData("claude_session_id", false)]
    public async Task SendPrompt_NewPromptToALiveStreamWithNothingElseQueued_TwoRoundTrips(string by, bool withKey)
    {
        using var timeout = TestTimeout.Start();
        RequestCommandLog? log = null;
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(
            postgres, LongCaches, b => log = RequestCommandLog.Capture(b), timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, sessionId) = await StartSessionAsync(env, agent, timeout.Token);
        var selector = by == "session_id" ? new SessionSelector { SessionId = sessionId.ToString() } : new SessionSelector { ClaudeSessionId = claudeId.ToString() };
        // The first call of a token reads and caches the token and the policy.
        var warmUp = await SendAsync(env, selector, "warm up", Guid.NewGuid().ToString(), timeout.Token);
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == warmUp.Prompt.PromptId, timeout.Token);
        var commands = log ?? throw new InvalidOperationException("The broker was built without the command log.");
        var before = commands.Of("SendPrompt").Count;

        var sent = await SendAsync(env, selector, "counted", withKey ? Guid.NewGuid().ToString() : null, timeout.Token);
        var delivery = await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);

        var roundTrips = commands.Of("SendPrompt").Skip(before).Where(m => m.StartsWith("Executing", StringComparison.Ordinal)).ToList();
        roundTrips.Should().HaveCount(2,
            "the key, the session and the machine's queue are read in one round trip, then the inserts, the lock and COMMIT:\n{0}",
            string.Join("\n\n", roundTrips));
        roundTrips[0].Should().Contain("FROM sessions s").And.Contain("agent_outbox");
        if (withKey)
        {
            roundTrips[0].Should().Contain("idempotency_key");
        }

        roundTrips[1].Should().Contain("INSERT INTO \"prompts\"").And.Contain("INSERT INTO \"agent_outbox\"")
            .And.Contain("pg_advisory_xact_lock").And.Contain("COMMIT");
        roundTrips[1].IndexOf("INSERT INTO \"prompts\"", StringComparison.Ordinal).Should().BeLessThan(
            roundTrips[1].IndexOf("pg_advisory_xact_lock", StringComparison.Ordinal), "the inserts run before the lock is taken, as when they were a round trip of their own");
        sent.Prompt.Status.Should().Be(PromptStatus.Sent);
        sent.Prompt.SessionId.Should().Be(sessionId.ToString());
        delivery.PromptDelivery.Text.Should().Be("counted");
        delivery.PromptDelivery.ClaudeSessionId.Should().Be(claudeId.ToString("D"), "the delivery names the session's current Claude id, read with the session");
    }

    [Fact]
    public async Task SendPrompt_LookupToALiveStream_ResolvedByTheResolverAndSentWithItsClaudeSession()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, sessionId) = await StartSessionAsync(env, agent, timeout.Token);

        var sent = await SendAsync(env, new SessionSelector { Lookup = claudeId.ToString() }, "by lookup", Guid.NewGuid().ToString(), timeout.Token);
        var delivery = await agent.NextAsync(m => m.PromptDelivery?.PromptId == sent.Prompt.PromptId, timeout.Token);

        sent.Prompt.Status.Should().Be(PromptStatus.Sent, "the fill reads the machine's queue itself when the first look did not");
        sent.Prompt.SessionId.Should().Be(sessionId.ToString());
        delivery.PromptDelivery.ClaudeSessionId.Should().Be(claudeId.ToString("D"));
    }

    [Fact]
    public async Task SendPrompt_RetriesWithTheSameKeyToALiveStream_SamePromptOneRowOneAuditRecordOneDelivery()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, sessionId) = await StartSessionAsync(env, agent, timeout.Token);
        var selector = new SessionSelector { ClaudeSessionId = claudeId.ToString() };

        var first = await SendAsync(env, selector, "once", "retry-me", timeout.Token);
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == first.Prompt.PromptId, timeout.Token);
        var again = await SendAsync(env, selector, "once", "retry-me", timeout.Token);
        var read = await env.Operator.GetPromptAsync(new GetPromptRequest { PromptId = "retry-me" }, SteeringEnv.Call(timeout.Token));
        await StreamDrainedAsync(agent, claudeId, timeout.Token);

        again.Prompt.PromptId.Should().Be(first.Prompt.PromptId);
        again.Prompt.Text.Should().Be("once");
        again.Prompt.SessionId.Should().Be(sessionId.ToString());
        again.Prompt.CreatedAt.Should().Be(first.Prompt.CreatedAt);
        again.Prompt.Should().Be(read.Prompt, "a retry answers the prompt as stored now, as a GetPrompt would");
        await AssertOnePromptAsync(env, sessionId, first.Prompt.PromptId);
        agent.Received().Count(m => m.PromptDelivery?.PromptId == first.Prompt.PromptId).Should().Be(1, "a retry sends nothing");
    }

    [Fact]
    public async Task SendPrompt_ConcurrentFirstSendsWithTheSameKeyToALiveStream_OnePrompt()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        var (claudeId, sessionId) = await StartSessionAsync(env, agent, timeout.Token);
        var selector = new SessionSelector { ClaudeSessionId = claudeId.ToString() };
        var key = Guid.NewGuid().ToString();

        // None of them finds an earlier prompt in its first look: the unique index decides, and the losers answer the winner.
        var sends = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SendAsync(env, selector, "together", key, timeout.Token)));
        await agent.NextAsync(m => m.PromptDelivery?.PromptId == key, timeout.Token);
        await StreamDrainedAsync(agent, claudeId, timeout.Token);

        sends.Should().OnlyContain(r => r.Prompt.PromptId == key && r.Prompt.Text == "together");
        await AssertOnePromptAsync(env, sessionId, key);
        agent.Received().Count(m => m.PromptDelivery?.PromptId == key).Should().Be(1);
    }

    [Fact]
    public async Task SendPrompt_RetryAfterTheSessionEnded_SamePrompt()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var selector = new SessionSelector { SessionId = session.Id.ToString() };
        var first = await SendAsync(env, selector, "before the end", "ended-retry", timeout.Token);
        await SteeringSeed.ScalarAsync(env.Database, "WITH u AS (UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", session.Id);

        var again = await SendAsync(env, selector, "before the end", "ended-retry", timeout.Token);

        again.Prompt.PromptId.Should().Be(first.Prompt.PromptId, "a retry is not a new prompt, so the session's end does not fail it");
        await AssertOnePromptAsync(env, session.Id, first.Prompt.PromptId);
    }

    [Theory]
    [InlineData("other session")]
    [InlineData("unknown session")]
    [InlineData("unknown Claude session")]
    [InlineData("malformed session id")]
    public async Task SendPrompt_RetryNamingAnotherSession_AlreadyExists(string target)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var other = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var key = Guid.NewGuid().ToString();
        await SendAsync(env, new SessionSelector { SessionId = session.Id.ToString() }, "one", key, timeout.Token);
        var selector = target switch
        {
            "other session" => new SessionSelector { SessionId = other.Id.ToString() },
            "unknown session" => new SessionSelector { SessionId = Guid.NewGuid().ToString() },
            "unknown Claude session" => new SessionSelector { ClaudeSessionId = Guid.NewGuid().ToString() },
            _ => new SessionSelector { SessionId = "not-a-uuid" },
        };
        var text = target == "malformed session id" ? "two" : "one";

        var status = await RpcAssert.FailsAsync(() => SendAsync(env, selector, text, key, timeout.Token), StatusCode.AlreadyExists);

        // A different text is reported before the selector is looked at, as it always was.
        status.Detail.Should().Contain(target == "malformed session id" ? "different text" : "different session");
        await AssertOnePromptAsync(env, session.Id, key);
    }

    [Theory]
    [InlineData("session_id", true, "no session has the id")]
    [InlineData("session_id", false, "no session has the id")]
    [InlineData("claude_session_id", true, "no session has the Claude session id")]
    [InlineData("launch_id", true, "no session was launched with the launch id 'no-such-launch'")]
    public async Task SendPrompt_UnknownSession_NotFoundAndNothingStored(string by, bool withKey, string expected)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        var selector = by switch
        {
            "session_id" => new SessionSelector { SessionId = Guid.NewGuid().ToString() },
            "claude_session_id" => new SessionSelector { ClaudeSessionId = Guid.NewGuid().ToString() },
            _ => new SessionSelector { LaunchId = "no-such-launch" },
        };
        const string CountAudits = "SELECT count(*) FROM audit_log WHERE action = 'prompt.send'";
        var audits = await SteeringSeed.ScalarAsync(env.Database, CountAudits);
        var text = "anyone? " + Guid.NewGuid();

        var status = await RpcAssert.FailsAsync(() => SendAsync(env, selector, text, withKey ? Guid.NewGuid().ToString() : null, timeout.Token), StatusCode.NotFound);

        status.Detail.Should().Contain(expected);
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM prompts WHERE text = $1", text)).Should().Be(0);
        (await SteeringSeed.ScalarAsync(env.Database, CountAudits)).Should().Be(audits, "nothing was sent, so nothing is audited");
    }

    [Theory]
    [InlineData("session_id", "is not a UUID")]
    [InlineData("claude_session_id", "is not a UUID")]
    [InlineData("launch_id", "use only the characters")]
    public async Task SendPrompt_MalformedSelector_InvalidArgument(string by, string expected)
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        var selector = by switch
        {
            "session_id" => new SessionSelector { SessionId = "nope" },
            "claude_session_id" => new SessionSelector { ClaudeSessionId = "nope" },
            _ => new SessionSelector { LaunchId = "has spaces" },
        };

        var status = await RpcAssert.FailsAsync(() => SendAsync(env, selector, "hello", Guid.NewGuid().ToString(), timeout.Token), StatusCode.InvalidArgument);

        status.Detail.Should().Contain("session." + by).And.Contain(expected);
    }

    [Fact]
    public async Task SendPrompt_ByLaunchId_ResolvedInTheFirstLook()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SendPromptRoundTripTests>(postgres, cancellationToken: timeout.Token);
        var launchId = "nightly-build.7";
        var session = await SteeringSeed.SessionAsync(
            env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token),
            launchId: Relay.Broker.Queries.ClientIds.ToGuid("launch", launchId), cancellationToken: timeout.Token);

        var sent = await SendAsync(env, new SessionSelector { LaunchId = launchId }, "build it", Guid.NewGuid().ToString(), timeout.Token);

        sent.Prompt.SessionId.Should().Be(session.Id.ToString());
        sent.Prompt.Status.Should().Be(PromptStatus.Queued, "the machine has no stream");
    }

    private static Task<SendPromptResponse> SendAsync(SteeringEnv env, SessionSelector selector, string text, string? key, CancellationToken cancellationToken) =>
        env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = key ?? string.Empty, Session = selector, Text = text },
            SteeringEnv.Call(cancellationToken)).ResponseAsync;

    /// <summary>Connects <paramref name="agent"/> and starts a Claude session on it; returns its Claude and Relay ids.</summary>
    private static async Task<(Guid ClaudeId, Guid SessionId)> StartSessionAsync(SteeringEnv env, SimulatedAgent agent, CancellationToken cancellationToken)
    {
        await agent.ConnectAsync(env.Broker, cancellationToken);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid: 4260), SessionStartSource.Startup));
        var session = await env.Viewer.GetSessionAsync(
            new GetSessionRequest { Session = new SessionSelector { ClaudeSessionId = claudeId.ToString() } }, SteeringEnv.Call(cancellationToken));
        return (claudeId, Guid.Parse(session.Session.SessionId));
    }

    /// <summary>
    /// Returns once everything the broker queued for <paramref name="agent"/>'s stream so far has gone out: a hook stored
    /// after it is acknowledged only after the broker's earlier messages were sent on the stream.
    /// </summary>
    private static Task StreamDrainedAsync(SimulatedAgent agent, Guid claudeId, CancellationToken cancellationToken) =>
        AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, Hook(Evidence(claudeId), "Stop"));

    private static async Task AssertOnePromptAsync(SteeringEnv env, Guid sessionId, string promptId)
    {
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM prompts WHERE relay_session_id = $1", sessionId)).Should().Be(1);
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM audit_log WHERE action = 'prompt.send' AND target = 'prompt:' || $1", promptId))
            .Should().Be(1, "the prompt is stored, and audited, once");
    }
}
