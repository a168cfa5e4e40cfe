using Relay.Broker.Persistence.Ingest;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Prompts;
using Relay.Broker.Tests.Queries;
using Relay.Protocol.V1;
using static Relay.Broker.Tests.AgentLink.AgentMessages;

namespace Relay.Broker.Tests.Watch;

/// <summary>The live feed dispatches rows this replica's writers committed without reading them back (CommittedEvents).</summary>
[Collection(PostgresCollection.Name)]
public sealed class EventFeedHandoverTests(PostgresFixture postgres)
{
    // The live feed's query (TimelineReader.ReadAllAfterAsync).
    private const string FeedRead = "WHERE id > $1 ORDER BY id LIMIT $2";

    // No poll during a test: every read of the feed comes from a signal, a watcher or a gap.
    private static readonly Dictionary<string, string?> NoPoll = new() { ["Watch:PollInterval"] = "00:01:00" };

    [Fact]
    public async Task Watch_AgentBatchCommitted_SeenWithoutTheFeedReadingTheLog()
    {
        using var timeout = TestTimeout.Start();
        await using var live = await LiveSession.StartAsync(postgres, pid: 4300, timeout.Token);

        var before = live.FeedReads;
        await AgentLinkHarness.SendAndCommitAsync(live.Agent, timeout.Token, Hook(Evidence(live.ClaudeId), "Stop"));
        await live.Watch.UntilAsync(w => w.Events.Any(e => e.Hook?.HookEventName == "Stop"), timeout.Token);

        live.FeedReads.Should().Be(before, "the batch's rows were handed to the feed after its commit, not read back");
        live.Watch.Events.Select(e => e.Cursor).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Watch_PromptSentToALiveStream_SeenWithoutTheFeedReadingTheLog()
    {
        using var timeout = TestTimeout.Start();
        await using var live = await LiveSession.StartAsync(postgres, pid: 4303, timeout.Token);

        // The machine's stream is here and nothing else is queued for it: SendPrompt stores the prompt SENT and commits in
        // one round trip with the log's head, then hands its rows over.
        var before = live.FeedReads;
        var sent = await live.Env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = new SessionSelector { ClaudeSessionId = live.ClaudeId.ToString() }, Text = "handed over" },
            SteeringEnv.Call(timeout.Token)).ResponseAsync;
        await live.Watch.UntilAsync(w => w.Events.Any(e => e.Kind == EventKind.PromptUpdated && e.Prompt.PromptId == sent.Prompt.PromptId), timeout.Token);

        live.FeedReads.Should().Be(before, "SendPrompt's rows were handed to the feed after its commit, not read back");
        live.Watch.Events.Where(e => e.Kind is EventKind.PromptCreated or EventKind.PromptUpdated).Should().HaveCount(2);
        live.Watch.Events.Select(e => e.Cursor).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Watch_RowsOfAWriterThatHandsNothingOver_ReadInOrderBeforeTheHandedOverRows()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<EventFeedHandoverTests>(postgres, NoPoll, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(env.Broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(Evidence(claudeId, pid: 4301), SessionStartSource.Startup));
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        using var watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest(), SteeringEnv.Call(timeout.Token)));
        await watch.NextAsync(timeout.Token);

        // Committed under the event-order lock by a writer that neither hands over nor signals: a gap before the agent's
        // batch, which the feed must read from the database, once, before the batch's own rows.
        var writer = new EventIngestWriter(env.Database.DataSource, TimeProvider.System);
        var gap = await writer.WriteAsync(Enumerable.Range(0, 3).Select(i => SteeringSeed.Hook(session, i)).ToList(), timeout.Token);
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, Hook(Evidence(claudeId), "Stop"));
        await watch.UntilAsync(w => w.Events.Any(e => e.Hook?.HookEventName == "Stop"), timeout.Token);

        var cursors = watch.Events.Select(e => e.Cursor).ToList();
        cursors.Should().StartWith(gap.Select(g => "ev" + g.EventId), "the gap's rows come first, in order");
        cursors.Select(c => long.Parse(c[2..], System.Globalization.CultureInfo.InvariantCulture)).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Watch_PromptRoundTripLive_SameEventsAsReplayedFromTheLog()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<EventFeedHandoverTests>(postgres, NoPoll, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(env.Broker, timeout.Token);
        var claudeId = Guid.NewGuid();
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token, SessionStart(Evidence(claudeId, pid: 4302), SessionStartSource.Startup));
        using var live = new WatchReader(env.Viewer.WatchAsync(new WatchRequest(), SteeringEnv.Call(timeout.Token)));
        var start = (await live.NextAsync(timeout.Token)).Checkpoint.Cursor;

        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { Session = new SessionSelector { ClaudeSessionId = claudeId.ToString() }, Text = "run the tests ✓ \"quoted\"" },
            SteeringEnv.Call(timeout.Token)).ResponseAsync;
        var promptId = sent.Prompt.PromptId;
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            new AgentMessage { PromptReceipt = new PromptReceipt { PromptId = promptId, Status = PromptStatus.Delivered, DeliveryPath = DeliveryPath.Channel, Session = Evidence(claudeId) } },
            Hook(Evidence(claudeId), "PostToolUse", h => h.ToolName = "Bash"));
        await AgentLinkHarness.SendAndCommitAsync(agent, timeout.Token,
            new AgentMessage { Reply = new SessionReply { ReplyId = Guid.NewGuid().ToString("D"), Session = Evidence(claudeId), InReplyTo = promptId, Text = "All green: 1.50 ✓", Source = ReplySource.ReplyTool } });
        await live.UntilAsync(w => w.Events.Any(e => e.Kind == EventKind.Reply), timeout.Token);

        using var replay = new WatchReader(env.Viewer.WatchAsync(new WatchRequest { AfterCursor = start }, SteeringEnv.Call(timeout.Token)));
        await replay.UntilAsync(w => w.Events.Count >= live.Events.Count, timeout.Token);

        live.Events.Select(e => e.Kind).Should().Contain([EventKind.PromptCreated, EventKind.PromptUpdated, EventKind.Hook, EventKind.Reply]);
        replay.Events.Take(live.Events.Count).Should().Equal(live.Events, "a row handed over maps to the same event as the row read back");
    }

    /// <summary>
    /// A broker whose SQL is captured, a connected agent with one session, and a live watcher that has seen the session's
    /// first hook: from here on, the feed reads the log only because of what the test does next.
    /// </summary>
    private sealed class LiveSession(SteeringEnv env, SimulatedAgent agent, Guid claudeId, WatchReader watch, CapturingLoggerProvider logs) : IAsyncDisposable
    {
        public SteeringEnv Env => env;

        public SimulatedAgent Agent => agent;

        public Guid ClaudeId => claudeId;

        public WatchReader Watch => watch;

        /// <summary>How many times the feed has read the log so far.</summary>
        public int FeedReads => logs.Entries.Count(e => e.Category == "Npgsql.Command" && e.Message.Contains(FeedRead, StringComparison.Ordinal));

        public static async Task<LiveSession> StartAsync(PostgresFixture postgres, int pid, CancellationToken cancellationToken)
        {
            var logs = new CapturingLoggerProvider();
            var env = await SteeringEnv.StartAsync<EventFeedHandoverTests>(postgres, NoPoll, b => SendPromptLockTests.CaptureNpgsql(b, logs), cancellationToken);
            SimulatedAgent? agent = null;
            WatchReader? watch = null;
            try
            {
                agent = await SimulatedAgent.EnrollAsync(env.Database, cancellationToken: cancellationToken);
                await agent.ConnectAsync(env.Broker, cancellationToken);
                var claudeId = Guid.NewGuid();
                await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, SessionStart(Evidence(claudeId, pid), SessionStartSource.Startup));
                watch = new WatchReader(env.Viewer.WatchAsync(new WatchRequest(), SteeringEnv.Call(cancellationToken)));
                await watch.NextAsync(cancellationToken); // the checkpoint: live from here
                await AgentLinkHarness.SendAndCommitAsync(agent, cancellationToken, Hook(Evidence(claudeId), "UserPromptSubmit"));
                await watch.UntilAsync(w => w.Events.Any(e => e.Hook?.HookEventName == "UserPromptSubmit"), cancellationToken);
                return new LiveSession(env, agent, claudeId, watch, logs);
            }
            catch
            {
                watch?.Dispose();
                if (agent is not null)
                {
                    await agent.DisposeAsync();
                }

                await env.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            watch.Dispose();
            await agent.DisposeAsync();
            await env.DisposeAsync();
        }
    }
}
