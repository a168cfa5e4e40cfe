using System.Text.Json.Nodes;
using Relay.Agent.Approvals;
using Relay.Agent.Hooks;
using Relay.Agent.Local;
using Relay.Agent.Tests.Local;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Approvals;

public sealed class ApprovalTests
{
    private static readonly JsonObject BashCall = new() { ["tool_name"] = "Bash", ["tool_input"] = new JsonObject { ["command"] = "rm -rf build", ["description"] = "Clean the build" } };

    [Fact]
    public async Task PermissionHook_VerdictInTime_AnswersWithTheDecision()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();

        var held = agent.HookAsync("PermissionRequest", claude, pid: 3001, fields: BashCall, cancellationToken: ct);
        var request = (await agent.Spool.WaitForAsync(m => m.PermissionRequest != null, ct)).PermissionRequest;
        request.Origin.Should().Be(ApprovalOrigin.Hook);
        request.ToolName.Should().Be("Bash");
        request.ToolInputJson.Should().Contain("rm -rf build");
        request.Description.Should().Be("Clean the build");
        request.Session.ClaudePid.Should().Be(3001);
        request.ExpiresAt.ToDateTimeOffset().Should().Be(agent.Time.GetUtcNow() + new LocalAgentOptions().PermissionHoldTimeout);
        held.IsCompleted.Should().BeFalse("the hook is held for the verdict");

        await agent.InboundAsync(new BrokerMessage { Seq = 1, PermissionVerdict = new PermissionVerdict { ApprovalId = request.ApprovalId, Decision = ApprovalDecision.Allow } }, ct);

        var output = (await held).Output!["hookSpecificOutput"]!;
        output["hookEventName"]!.GetValue<string>().Should().Be("PermissionRequest");
        output["decision"]!["behavior"]!.GetValue<string>().Should().Be("allow");
        agent.Get<ApprovalCoordinator>().PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task PermissionHook_Denied_AnswersDenyWithTheReasonAsMessage()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();

        var held = agent.HookAsync("PermissionRequest", NewClaudeId(), pid: 3002, fields: BashCall, cancellationToken: ct);
        var request = (await agent.Spool.WaitForAsync(m => m.PermissionRequest != null, ct)).PermissionRequest;
        await agent.InboundAsync(new BrokerMessage
        {
            Seq = 1,
            PermissionVerdict = new PermissionVerdict { ApprovalId = request.ApprovalId, Decision = ApprovalDecision.Deny, Reason = "Not on main." },
        }, ct);

        var decision = (await held).Output!["hookSpecificOutput"]!["decision"]!;
        decision["behavior"]!.GetValue<string>().Should().Be("deny");
        decision["message"]!.GetValue<string>().Should().Be("Not on main.");
    }

    [Fact]
    public async Task PermissionHook_NoVerdictWithinHold_AnswersNothingAndClosesTheRequest()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();

        var held = agent.HookAsync("PermissionRequest", NewClaudeId(), pid: 3003, fields: BashCall, cancellationToken: ct);
        var request = (await agent.Spool.WaitForAsync(m => m.PermissionRequest != null, ct)).PermissionRequest;
        var hold = new LocalAgentOptions().PermissionHoldTimeout;
        await agent.Time.WaitForTimerAsync((due, _) => due == hold, ct);
        agent.Time.Advance(hold);

        var answer = await held;
        answer.Should().Be(HookAnswer.None);
        var closed = (await agent.Spool.WaitForAsync(m => m.PermissionClosed != null, ct)).PermissionClosed;
        closed.ApprovalId.Should().Be(request.ApprovalId);
        closed.Reason.Should().Contain("terminal");

        // A verdict that comes after the hook gave up changes nothing.
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PermissionVerdict = new PermissionVerdict { ApprovalId = request.ApprovalId, Decision = ApprovalDecision.Allow } }, ct);
        agent.Get<ApprovalCoordinator>().PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task Permission_HookAndChannelForSameToolCall_OneRequestAndTheVerdictAnswersBoth()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(3004, claude), ct);

        var held = agent.HookAsync("PermissionRequest", claude, pid: 3004, fields: BashCall, cancellationToken: ct);
        var request = (await agent.Spool.WaitForAsync(m => m.PermissionRequest != null, ct)).PermissionRequest;
        await channel.SendAsync(new ChannelMessage
        {
            PermissionRequest = new ChannelPermissionRequest { RequestId = "ABCDE", ToolName = "Bash", Description = "Run shell command", InputPreview = "{\"command\":\"rm -rf build\"}" },
        }, ct);
        await Local.AttachTests.RoundTripAsync(channel, ct);
        agent.Spool.Messages.Count(m => m.PermissionRequest != null).Should().Be(1);

        await agent.InboundAsync(new BrokerMessage { Seq = 1, PermissionVerdict = new PermissionVerdict { ApprovalId = request.ApprovalId, Decision = ApprovalDecision.Allow } }, ct);

        (await held).Output!["hookSpecificOutput"]!["decision"]!["behavior"]!.GetValue<string>().Should().Be("allow");
        var verdict = (await channel.ReadUntilAsync(m => m.PermissionVerdict is not null, ct)).PermissionVerdict;
        verdict.ClaudeRequestId.Should().Be("abcde");
        verdict.Decision.Should().Be(ApprovalDecision.Allow);
    }

    [Fact]
    public async Task Permission_ChannelRequestAnsweredInTerminal_IsClosedByTheLaterHook()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(3005, claude), ct);

        await channel.SendAsync(new ChannelMessage { PermissionRequest = new ChannelPermissionRequest { RequestId = "fghij", ToolName = "Write" } }, ct);
        var request = (await agent.Spool.WaitForAsync(m => m.PermissionRequest != null, ct)).PermissionRequest;
        request.Origin.Should().Be(ApprovalOrigin.Channel);
        request.ClaudeRequestId.Should().Be("fghij");
        agent.Time.Advance(TimeSpan.FromSeconds(5));

        await agent.HookAsync("PostToolUse", claude, pid: 3005, fields: new JsonObject { ["tool_name"] = "Write" }, cancellationToken: ct);

        var closed = (await agent.Spool.WaitForAsync(m => m.PermissionClosed != null, ct)).PermissionClosed;
        closed.ApprovalId.Should().Be(request.ApprovalId);
        closed.Reason.Should().Contain("terminal");
    }
}
