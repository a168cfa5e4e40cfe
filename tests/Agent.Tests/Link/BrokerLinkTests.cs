using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Link;
using Relay.Agent.Tests.Infrastructure;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using Relay.Tests.Shared;
using static Relay.Agent.Tests.Infrastructure.LinkAgentHarness;

namespace Relay.Agent.Tests.Link;

/// <summary>The broker link against a real relay-broker process and its real PostgreSQL.</summary>
[Collection(LinkBrokerCollection.Name)]
public sealed class BrokerLinkTests(LinkBrokerProcess broker)
{
    [Fact]
    public async Task Connect_SpooledAndNewHookEvents_EachStoredOnceAndAcked()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        await agent.EnrollAsync(broker, timeout.Token);
        var session = Guid.NewGuid();
        await agent.Spool.AppendAsync(Hook(session, "SessionStart", "ev-0"), timeout.Token);
        for (var i = 1; i < 50; i++)
        {
            await agent.Spool.AppendAsync(Hook(session, "PreToolUse", "ev-" + i), timeout.Token);
        }

        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        for (var i = 50; i < 100; i++)
        {
            await agent.Spool.AppendAsync(Hook(session, "PostToolUse", "ev-" + i), timeout.Token);
        }

        await agent.WaitDrainedAsync(timeout.Token);

        var stored = await HookEventIdsAsync(session, timeout.Token);
        stored.Should().HaveCount(100).And.OnlyHaveUniqueItems();
        stored.Should().BeEquivalentTo(Enumerable.Range(0, 100).Select(i => "ev-" + i));
        var state = agent.Link.State;
        state.Connected.Should().BeTrue();
        state.ConnectionId.Should().NotBeEmpty();
        state.AckedSeq.Should().Be(100);
        state.ConnectedSince.Should().NotBeNull();
        agent.Inbound.Welcomes.Should().ContainSingle().Which.MachineName.Should().StartWith("link-");
        agent.Spool.Inner.AckedSeq.Should().Be(100);
    }

    [Fact]
    public async Task BrokerKilledAndRestarted_WhileEventsKeepComing_EveryEventStoredOnceAndSpoolDrains()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        var session = Guid.NewGuid();
        await agent.Spool.AppendAsync(Hook(session, "SessionStart", "kill-0"), timeout.Token);

        // Events keep coming, paced, for the whole outage; the pace only shapes the load, nothing waits on it.
        const int total = 400;
        using var stopAppending = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var appended = 1;
        var appender = Task.Run(async () =>
        {
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
            while (appended < total && await pace.WaitForNextTickAsync(stopAppending.Token))
            {
                await agent.Spool.AppendAsync(Hook(session, "PreToolUse", "kill-" + appended.ToString(CultureInfo.InvariantCulture)), stopAppending.Token);
                Interlocked.Increment(ref appended);
            }
        }, timeout.Token);

        await agent.Spool.WaitUntilAsync(s => Volatile.Read(ref appended) >= 50, timeout.Token);
        await broker.KillAsync();
        await agent.WaitConnectedAsync(false, timeout.Token);
        var whileDown = Volatile.Read(ref appended);
        await agent.Spool.WaitUntilAsync(s => Volatile.Read(ref appended) >= whileDown + 50, timeout.Token);
        await broker.RestartAsync();
        await agent.WaitConnectedAsync(true, timeout.Token);
        await appender;
        await agent.WaitDrainedAsync(timeout.Token);

        var stored = await HookEventIdsAsync(session, timeout.Token);
        stored.Should().OnlyHaveUniqueItems("every event is stored exactly once");
        stored.Should().BeEquivalentTo(Enumerable.Range(0, total).Select(i => "kill-" + i.ToString(CultureInfo.InvariantCulture)));
        agent.Spool.Stats.Items.Should().Be(0);
        agent.Inbound.Welcomes.Count.Should().BeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task RevokedMachine_LinkReportsRefusedCredentialAndBacksOffLong()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        var name = await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);

        var (admin, channel, headers) = broker.Admin();
        using (channel)
        {
            await admin.RevokeMachineAsync(new RevokeMachineRequest { Machine = name, Reason = "test" }, headers, cancellationToken: timeout.Token);
        }

        await agent.WaitConnectedAsync(false, timeout.Token);
        // The state is set right after the stream ends; wait for the retry time to appear.
        await WaitForStateAsync(agent, s => s.NextAttemptAt is not null, timeout.Token);

        var state = agent.Link.State;
        state.Connected.Should().BeFalse();
        state.LastError.Should().ContainAny("revoked", "Unauthenticated", "credential");
        (state.NextAttemptAt.ToDateTimeOffset() - DateTimeOffset.UtcNow).Should().BeGreaterThan(TimeSpan.FromMinutes(30),
            "a refused credential is retried only after Agent:Link:AuthFailureBackoff (1 h here), never in a hot loop");
    }

    [Fact]
    public async Task NotEnrolled_LinkWaitsAndSaysSo()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        await agent.StartAsync(timeout.Token);

        await WaitForStateAsync(agent, s => s.LastError.Length > 0, timeout.Token);

        agent.Link.State.LastError.Should().Contain("not enrolled").And.Contain("relay-agent enroll");
        agent.Link.IsConnected.Should().BeFalse();
        var call = () => agent.Link.CallToolAsync(new ToolCall { ListSessions = new ListSessionsToolRequest() }, TimeSpan.FromSeconds(5), timeout.Token);
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unavailable);
    }

    [Fact]
    public async Task SendPrompt_ReachesInboundOnceAndIsNotRedeliveredAfterAgentRestart()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        var session = Guid.NewGuid();
        await agent.Spool.AppendAsync(Hook(session, "SessionStart", "prompt-start-" + session), timeout.Token);
        await agent.WaitDrainedAsync(timeout.Token);

        var first = await SendPromptAsync(session, "first", timeout.Token);
        await agent.Inbound.WaitUntilAsync(i => i.Sequenced.Any(m => m.PromptDelivery?.PromptId == first), timeout.Token);
        var delivery = agent.Inbound.Sequenced.Single(m => m.PromptDelivery?.PromptId == first);
        delivery.PromptDelivery.Text.Should().Be("first");
        delivery.PromptDelivery.ClaudeSessionId.Should().Be(session.ToString("D"));
        // The position (and so the ack) is durable before the ack goes out.
        await WaitForPositionAsync(agent, delivery.Seq, timeout.Token);

        // The agent restarts: the broker must not hand it the acknowledged prompt again.
        await agent.StopAsync();
        var before = agent.Inbound;
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        var second = await SendPromptAsync(session, "second", timeout.Token);
        await agent.Inbound.WaitUntilAsync(i => i.Sequenced.Any(m => m.PromptDelivery?.PromptId == second), timeout.Token);

        agent.Inbound.Should().BeSameAs(before);
        agent.Inbound.Sequenced.Where(m => m.PromptDelivery?.PromptId == first).Should().ContainSingle("an acknowledged prompt is never delivered again");
        agent.Inbound.Sequenced.Single(m => m.PromptDelivery?.PromptId == second).Seq.Should().Be(delivery.Seq + 1);
        agent.Inbound.Calls.Should().ContainInOrder("welcome", "sequenced:" + delivery.Seq, "welcome");
    }

    [Fact]
    public async Task SendPrompt_AgentStopsBeforeHandlingIt_DeliveredAgainAfterReconnect()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        var session = Guid.NewGuid();
        await agent.Spool.AppendAsync(Hook(session, "SessionStart", "held-start-" + session), timeout.Token);
        await agent.WaitDrainedAsync(timeout.Token);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        agent.Inbound.OnSequenced = async (_, token) =>
        {
            held.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);   // never finishes: the stream ends under it
        };

        var prompt = await SendPromptAsync(session, "held", timeout.Token);
        await held.Task.WaitAsync(timeout.Token);
        await agent.StopAsync();
        agent.Inbound.OnSequenced = null;
        await agent.StartAsync(timeout.Token);
        await agent.Inbound.WaitUntilAsync(i => i.Sequenced.Any(m => m.PromptDelivery?.PromptId == prompt), timeout.Token);

        agent.Inbound.Sequenced.Where(m => m.PromptDelivery?.PromptId == prompt).Should().ContainSingle(
            "the first attempt never finished, so it was neither acked nor recorded; the broker resent it");
    }

    [Fact]
    public async Task CallToolAsync_ListSessions_RoundTripsThroughTheBroker()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = new LinkAgentHarness();
        var name = await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);
        var session = Guid.NewGuid();
        await agent.Spool.AppendAsync(Hook(session, "SessionStart", "tool-start-" + session), timeout.Token);
        await agent.WaitDrainedAsync(timeout.Token);

        var call = new ToolCall
        {
            Caller = new SessionEvidence { ClaudeSessionId = session.ToString("D") },
            ListSessions = new ListSessionsToolRequest { Machine = name },
        };
        var result = await agent.Link.CallToolAsync(call, TimeSpan.FromSeconds(30), timeout.Token);

        call.RequestId.Should().NotBeEmpty();
        result.RequestId.Should().Be(call.RequestId);
        result.ResultCase.Should().Be(ToolResult.ResultOneofCase.ListSessions, result.Error?.Message);
    }

    [Fact]
    public async Task Heartbeat_BrokerHeartbeats_AnsweredAtOnceWithStats()
    {
        using var timeout = TestTimeout.Start();
        // The agent's clock stands still, so its own quiet-time heartbeat never comes due: whatever heartbeat it sends
        // answers one of the broker's (every 2 s, LinkBrokerProcess). Six of them outlast the broker's 10 s peer timeout,
        // so the answers alone must have kept the stream.
        var time = new ManualTimeProvider();
        await using var agent = new LinkAgentHarness(time);
        await agent.EnrollAsync(broker, timeout.Token);
        await agent.StartAsync(timeout.Token);
        await agent.WaitConnectedAsync(true, timeout.Token);

        await agent.Inbound.WaitUntilAsync(i => i.StatsCollected >= 6, timeout.Token);

        agent.Link.IsConnected.Should().BeTrue();
        agent.Inbound.Welcomes.Should().HaveCount(1, "the broker must not have dropped the stream as silent");
    }

    private static async Task WaitForStateAsync(LinkAgentHarness agent, Func<BrokerLinkState, bool> condition, CancellationToken cancellationToken)
    {
        // The link's state has no change signal beyond connected/disconnected; look at it on a short timer, bounded.
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (!condition(agent.Link.State))
        {
            await tick.WaitForNextTickAsync(cancellationToken);
        }
    }

    private static async Task WaitForPositionAsync(LinkAgentHarness agent, ulong seq, CancellationToken cancellationToken)
    {
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (LinkPosition.Load(agent.StateDirectory).LastBrokerSeq < seq)
        {
            await tick.WaitForNextTickAsync(cancellationToken);
        }
    }

    private async Task<string> SendPromptAsync(Guid claudeSessionId, string text, CancellationToken cancellationToken)
    {
        var (admin, channel, headers) = broker.Admin();
        using (channel)
        {
            var response = await admin.SendPromptAsync(new SendPromptRequest
            {
                PromptId = Guid.NewGuid().ToString("D"),
                Session = new SessionSelector { ClaudeSessionId = claudeSessionId.ToString("D") },
                Text = text,
                ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)),
            }, headers, cancellationToken: cancellationToken);
            return response.Prompt.PromptId;
        }
    }

    /// <summary>Every hook event the broker stored for the session, one entry per stored row.</summary>
    private async Task<List<string>> HookEventIdsAsync(Guid claudeSessionId, CancellationToken cancellationToken)
    {
        var (admin, channel, headers) = broker.Admin();
        using (channel)
        {
            var ids = new List<string>();
            var request = new GetSessionHistoryRequest
            {
                Session = new SessionSelector { ClaudeSessionId = claudeSessionId.ToString("D") },
                Kinds = { EventKind.Hook },
                OmitRawJson = true,
                PageSize = 500,
            };
            for (var page = 0; page < 100; page++)
            {
                var response = await admin.GetSessionHistoryAsync(request, headers, cancellationToken: cancellationToken);
                ids.AddRange(response.Events.Select(e => e.Hook.EventId));
                if (response.NextPageToken.Length == 0)
                {
                    return ids;
                }

                request.PageToken = response.NextPageToken;
            }

            throw new InvalidOperationException("More than 100 pages of history.");
        }
    }
}
