using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Launch;
using Relay.Agent.Link;
using Relay.Agent.Local;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Local;

public sealed class LaunchTests
{
    [Fact]
    public async Task LaunchRequest_WithInitialPrompt_StartsClaudeAndDeliversThePromptToItsChannel()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var relayId = Guid.NewGuid().ToString("D");
        var prompt = Prompt(sessionId: relayId, text: "Review the open pull request.");
        var request = new LaunchRequest { LaunchId = "launch-1", SessionId = relayId, Name = "reviewer", ClaudeArgs = { "--model", "opus" }, InitialPrompt = prompt };

        await agent.InboundAsync(new BrokerMessage { Seq = 1, LaunchRequest = request }, ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, LaunchRequest = request }, ct); // retransmitted
        await agent.Get<LaunchCoordinator>().WhenIdleAsync().WaitAsync(ct);

        var spec = agent.Launcher.Launches.Should().ContainSingle().Subject;
        spec.LaunchId.Should().Be("launch-1");
        spec.Name.Should().Be("reviewer");
        spec.ClaudeArguments.Should().Equal("--model", "opus");
        Guid.TryParse(spec.ClaudeSessionId, out _).Should().BeTrue();
        var result = agent.Spool.Messages.Single(m => m.LaunchResult != null).LaunchResult;
        result.Started.Should().BeTrue();
        result.Local.Should().BeFalse();
        result.TmuxTarget.Should().Be("relay-launch-1:0");
        result.Session.ClaudePid.Should().Be(4242);
        result.Session.ClaudeSessionId.Should().Be(spec.ClaudeSessionId);
        result.Session.SessionId.Should().Be(relayId);

        // The channel of the launched Claude attaches; the initial prompt waits for it.
        using var channel = await agent.AttachAsync(Hello(4242, spec.ClaudeSessionId, launchId: "launch-1"), ct);
        channel.Attachment.LaunchId.Should().Be("launch-1");
        channel.Attachment.Name.Should().Be("reviewer");
        channel.Attachment.SessionId.Should().Be(relayId);
        var written = (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt;
        written.PromptId.Should().Be(prompt.PromptId);
        await channel.SendAsync(Ack(prompt.PromptId), ct);
        (await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct)).PromptReceipt.DeliveryPath.Should().Be(DeliveryPath.Channel);
    }

    [Fact]
    public async Task LaunchRequest_ClaudeIgnoredTheChannelFlag_InitialPromptGoesThroughHooksNotTheChannel()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        agent.Launcher.Outcome = spec => new LaunchOutcome(true, null, 4242, "relay-" + spec.LaunchId + ":0", DateTimeOffset.UtcNow) { ChannelsRefused = true };
        var relayId = Guid.NewGuid().ToString("D");
        var prompt = Prompt(sessionId: relayId, text: "Fix the flaky test.");
        var request = new LaunchRequest { LaunchId = "launch-gated", SessionId = relayId, InitialPrompt = prompt };

        await agent.InboundAsync(new BrokerMessage { Seq = 1, LaunchRequest = request }, ct);
        await agent.Get<LaunchCoordinator>().WhenIdleAsync().WaitAsync(ct);
        var claude = agent.Launcher.Launches.Should().ContainSingle().Subject.ClaudeSessionId;

        // The channel still attaches (Claude Code starts it), but Claude would drop what it pushes.
        using var channel = await agent.AttachAsync(Hello(4242, claude, launchId: "launch-gated"), ct);
        var answer = await agent.HookAsync("UserPromptSubmit", claude, pid: 4242, launchId: "launch-gated", cancellationToken: ct);

        answer.Output!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Contain("Fix the flaky test.");
        var receipt = (await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct)).PromptReceipt;
        // Had the prompt been pushed to the channel (where Claude drops it), it would be waiting for the channel's ack
        // and the hook would carry nothing.
        receipt.DeliveryPath.Should().Be(DeliveryPath.HookContext);
    }

    [Fact]
    public async Task LaunchRequest_Expired_IsReportedFailedWithoutStarting()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var prompt = Prompt(sessionId: Guid.NewGuid().ToString("D"));
        var request = new LaunchRequest
        {
            LaunchId = "launch-2",
            ExpiresAt = Timestamp.FromDateTimeOffset(agent.Time.GetUtcNow().AddSeconds(-1)),
            InitialPrompt = prompt,
        };

        await agent.InboundAsync(new BrokerMessage { Seq = 1, LaunchRequest = request }, ct);
        await agent.Get<LaunchCoordinator>().WhenIdleAsync().WaitAsync(ct);

        agent.Launcher.Launches.Should().BeEmpty();
        var result = agent.Spool.Messages.Single(m => m.LaunchResult != null).LaunchResult;
        result.Started.Should().BeFalse();
        result.Error.Should().Contain("expired");
        agent.Spool.Messages.Single(m => m.PromptReceipt != null).PromptReceipt.Status.Should().Be(PromptStatus.Failed);
    }

    [Fact]
    public async Task LaunchRequest_LauncherFails_ReportsItsError()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        agent.Launcher.Outcome = _ => new LaunchOutcome(false, "tmux is not installed", 0, string.Empty, DateTimeOffset.UtcNow);

        await agent.InboundAsync(new BrokerMessage { Seq = 1, LaunchRequest = new LaunchRequest { LaunchId = "launch-3" } }, ct);
        await agent.Get<LaunchCoordinator>().WhenIdleAsync().WaitAsync(ct);

        var result = agent.Spool.Messages.Single(m => m.LaunchResult != null).LaunchResult;
        result.Started.Should().BeFalse();
        result.Error.Should().Be("tmux is not installed");
        agent.Get<Agent.Sessions.ISessionTracker>().Snapshot().Should().BeEmpty();
    }

    [Fact]
    public async Task Launch_LocalCall_StartsAndReportsALocalResult()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();

        var result = await agent.Client.LaunchAsync(new LocalLaunchRequest { LaunchId = "local-1", Name = "scratch", Prompt = "Say hello." }, cancellationToken: ct);

        result.Started.Should().BeTrue();
        result.Local.Should().BeTrue();
        result.Session.LaunchId.Should().Be("local-1");
        agent.Spool.Messages.Single(m => m.LaunchResult != null).LaunchResult.Local.Should().BeTrue();
        using var channel = await agent.AttachAsync(Hello(4242, result.Session.ClaudeSessionId, launchId: "local-1"), ct);
        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.Text.Should().Be("Say hello.");

        var again = async () => await agent.Client.LaunchAsync(new LocalLaunchRequest { LaunchId = "local-1" }, cancellationToken: ct);
        (await again.Should().ThrowAsync<Relay.Grpc.RpcException>()).Which.StatusCode.Should().Be(Relay.Grpc.StatusCode.AlreadyExists);
    }

    [Fact]
    public async Task StopRequest_ForALaunchedSession_StopsItAndReportsTheResult()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        await agent.Client.LaunchAsync(new LocalLaunchRequest { LaunchId = "local-2" }, cancellationToken: ct);

        await agent.InboundAsync(new BrokerMessage { Seq = 1, StopRequest = new StopRequest { StopId = "stop-1", Session = new SessionEvidence { LaunchId = "local-2" } } }, ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 2, StopRequest = new StopRequest { StopId = "stop-2", Session = new SessionEvidence { LaunchId = "nobody" } } }, ct);
        await agent.Get<LaunchCoordinator>().WhenIdleAsync().WaitAsync(ct);

        var results = agent.Spool.Messages.Where(m => m.StopResult != null).Select(m => m.StopResult).ToDictionary(r => r.StopId);
        results["stop-1"].Stopped.Should().BeTrue();
        results["stop-1"].Session.ClaudePid.Should().Be(4242);
        results["stop-2"].Stopped.Should().BeFalse();
        results["stop-2"].Error.Should().Contain("No live Claude process");
    }

    [Fact]
    public async Task SessionStart_BrokerAway_IsAnsweredWithTheBriefingFromThePersistedCopy()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        using var directory = new TempDirectory("rla-");
        Directory.CreateDirectory(directory.Path);
        await using (var online = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path))
        {
            await online.Get<IBrokerInbound>().OnWelcomeAsync(new Welcome
            {
                MachineId = "m-1",
                Briefings = { new Briefing { Name = "reviewer", Text = "Review only; never push." }, new Briefing { Name = "other", Text = "x" } },
            }, ct);
            online.Get<IBrokerInbound>().HandleState(new BrokerMessage { BriefingUpdate = new BriefingUpdate { Name = "other", Deleted = true } });
        }

        // Restarted while the broker is away: the briefing comes from disk.
        await using var offline = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path);
        var launched = await offline.Client.LaunchAsync(new LocalLaunchRequest { LaunchId = "local-3", Name = "reviewer" }, cancellationToken: ct);
        var answer = await offline.HookAsync("SessionStart", launched.Session.ClaudeSessionId, pid: 4242,
            fields: new JsonObject { ["source"] = "startup" }, launchId: "local-3", cancellationToken: ct);

        var output = answer.Output!["hookSpecificOutput"]!;
        output["hookEventName"]!.GetValue<string>().Should().Be("SessionStart");
        output["additionalContext"]!.GetValue<string>().Should().Be("Review only; never push.");
        File.ReadAllText(Path.Combine(directory.Path, "state", "briefings.json")).Should().NotContain("\"other\"");
    }
}
