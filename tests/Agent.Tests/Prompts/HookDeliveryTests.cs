using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Local;
using Relay.Agent.Prompts;
using Relay.Agent.Tests.Local;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Prompts;

public sealed class HookDeliveryTests
{
    [Fact]
    public async Task PreToolUse_SessionWithoutChannelFlag_CarriesPromptAsContextAndReceiptComesOnlyAfterCommit()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        agent.Probe.WithoutChannelFlag(2001);
        var claude = NewClaudeId();
        await agent.HookAsync("SessionStart", claude, pid: 2001, fields: new JsonObject { ["source"] = "startup" }, cancellationToken: ct);
        var prompt = Prompt(claudeSessionId: claude, text: "Please run the tests.");
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);

        var answer = await agent.HookAsync("PreToolUse", claude, fields: new JsonObject { ["tool_name"] = "Bash" }, commit: false, cancellationToken: ct);

        var output = answer.Output!["hookSpecificOutput"]!;
        output["hookEventName"]!.GetValue<string>().Should().Be("PreToolUse");
        var context = output["additionalContext"]!.GetValue<string>();
        context.Should().Contain("Please run the tests.").And.Contain("\"alice\"").And.Contain(prompt.PromptId).And.Contain("not an instruction");
        agent.Spool.Messages.Should().NotContain(m => m.PromptReceipt != null, "the answer was not written yet");

        await answer.Commit!(ct);
        var receipt = agent.Spool.Messages.Single(m => m.PromptReceipt != null).PromptReceipt;
        receipt.Status.Should().Be(PromptStatus.Delivered);
        receipt.DeliveryPath.Should().Be(DeliveryPath.HookContext);
        receipt.HookEventName.Should().Be("PreToolUse");

        // Delivered once: the next hook carries nothing, and is the evidence that Claude saw it.
        var next = await agent.HookAsync("PostToolUse", claude, fields: new JsonObject { ["tool_name"] = "Bash" }, cancellationToken: ct);
        next.Output.Should().BeNull();
        agent.Spool.Messages.Where(m => m.PromptReceipt != null).Select(m => m.PromptReceipt.Status)
            .Should().Equal(PromptStatus.Delivered, PromptStatus.Seen);
    }

    [Fact]
    public async Task Stop_SessionWithoutChannel_BlocksWithThePromptAsReason()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        // Only http hooks so far: a pid-less session, which has no channel.
        await agent.HookAsync("UserPromptSubmit", claude, fields: new JsonObject { ["prompt"] = "hi" }, cancellationToken: ct);
        var prompt = Prompt(claudeSessionId: claude, text: "Now update the changelog.");
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);

        var answer = await agent.HookAsync("Stop", claude, fields: new JsonObject { ["stop_hook_active"] = false }, cancellationToken: ct);

        answer.Output!["decision"]!.GetValue<string>().Should().Be("block");
        answer.Output["reason"]!.GetValue<string>().Should().Contain("Now update the changelog.");
        var receipt = agent.Spool.Messages.Single(m => m.PromptReceipt != null).PromptReceipt;
        receipt.DeliveryPath.Should().Be(DeliveryPath.HookStopBlock);
        receipt.HookEventName.Should().Be("Stop");
    }

    [Fact]
    public async Task Stop_AfterHookDelivery_ItsLastMessageIsSpooledAsTheReply()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        await agent.HookAsync("UserPromptSubmit", claude, cancellationToken: ct);
        var prompt = Prompt(claudeSessionId: claude, text: "What is 2 + 2?");
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        (await agent.HookAsync("PreToolUse", claude, cancellationToken: ct)).Output.Should().NotBeNull();

        await agent.HookAsync("Stop", claude, fields: new JsonObject { ["last_assistant_message"] = "4." }, cancellationToken: ct);

        var reply = agent.Spool.Messages.Single(m => m.Reply != null).Reply;
        reply.Source.Should().Be(ReplySource.StopHook);
        reply.InReplyTo.Should().Be(prompt.PromptId);
        reply.Text.Should().Be("4.");
        agent.Spool.Messages.Where(m => m.PromptReceipt != null).Select(m => m.PromptReceipt.Status).Should().Equal(PromptStatus.Delivered, PromptStatus.Seen);
    }

    [Fact]
    public async Task Hook_AnswerNeverWritten_PromptIsOfferedAgainAfterTheReservation()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        await agent.HookAsync("UserPromptSubmit", claude, cancellationToken: ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = Prompt(claudeSessionId: claude) }, ct);

        (await agent.HookAsync("PreToolUse", claude, commit: false, cancellationToken: ct)).Output.Should().NotBeNull();
        (await agent.HookAsync("PreToolUse", claude, commit: false, cancellationToken: ct)).Output.Should().BeNull("the first answer holds it");
        agent.Time.Advance(TimeSpan.FromSeconds(16));

        (await agent.HookAsync("PreToolUse", claude, cancellationToken: ct)).Output.Should().NotBeNull();
        agent.Spool.Messages.Count(m => m.PromptReceipt?.Status == PromptStatus.Delivered).Should().Be(1);
    }

    [Fact]
    public async Task Hook_ChannelSessionWithoutChannelYet_WaitsForTheChannelThenFallsBack()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        // Started with the channel flag: SessionStart comes before the channel connects, so it must not take the prompt.
        await agent.HookAsync("SessionStart", claude, pid: 2003, fields: new JsonObject { ["source"] = "startup" }, cancellationToken: ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = Prompt(claudeSessionId: claude) }, ct);

        (await agent.HookAsync("PreToolUse", claude, pid: 2003, cancellationToken: ct)).Output.Should().BeNull();
        agent.Time.Advance(TimeSpan.FromSeconds(31));

        (await agent.HookAsync("PreToolUse", claude, pid: 2003, cancellationToken: ct)).Output.Should().NotBeNull("no channel came within ChannelAttachWait");
    }

    [Fact]
    public async Task Hook_ChannelDoesNotAckInTime_PromptFallsBackToHook()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(2004, claude), ct);
        var prompt = Prompt(claudeSessionId: claude);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        await channel.ReadUntilAsync(m => m.Prompt is not null, ct); // written, never acked

        (await agent.HookAsync("PostToolUse", claude, pid: 2004, cancellationToken: ct)).Output.Should().BeNull("the channel still has time to ack");
        agent.Time.Advance(TimeSpan.FromSeconds(10));

        var answer = await agent.HookAsync("PostToolUse", claude, pid: 2004, cancellationToken: ct);
        answer.Output!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Contain(prompt.Text);
        agent.Spool.Messages.Single(m => m.PromptReceipt != null).PromptReceipt.DeliveryPath.Should().Be(DeliveryPath.HookContext);
    }

    [Fact]
    public async Task Hook_InsideSubagent_CarriesNoPrompt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        await agent.HookAsync("UserPromptSubmit", claude, cancellationToken: ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = Prompt(claudeSessionId: claude) }, ct);

        (await agent.HookAsync("PreToolUse", claude, fields: new JsonObject { ["agent_id"] = "sub-1" }, cancellationToken: ct)).Output.Should().BeNull();
        (await agent.HookAsync("PreToolUse", claude, cancellationToken: ct)).Output.Should().NotBeNull();
    }

    [Fact]
    public async Task Prompt_PastItsExpiry_IsReportedExpiredByTheTimer()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var prompt = Prompt(sessionId: Guid.NewGuid().ToString("D"));
        prompt.ExpiresAt = Timestamp.FromDateTimeOffset(agent.Time.GetUtcNow().AddMinutes(1));
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        await agent.Time.WaitForTimerAsync((_, period) => period == new LocalAgentOptions().TickInterval, ct);

        agent.Time.Advance(TimeSpan.FromMinutes(2));

        var receipt = (await agent.Spool.WaitForAsync(m => m.PromptReceipt?.Status == PromptStatus.Expired, ct)).PromptReceipt;
        receipt.PromptId.Should().Be(prompt.PromptId);
        agent.Get<PromptQueue>().PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task Prompt_QueuedBeforeRestart_IsDeliveredAfterIt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        using var directory = new TempDirectory("rla-");
        Directory.CreateDirectory(directory.Path);
        var claude = NewClaudeId();
        var prompt = Prompt(claudeSessionId: claude, text: "survives a restart");

        await using (var agent = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path))
        {
            await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        }

        await using var restarted = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path);
        restarted.Get<PromptQueue>().PendingCount.Should().Be(1);
        await restarted.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct); // retransmitted: still one
        var answer = await restarted.HookAsync("UserPromptSubmit", claude, cancellationToken: ct);
        answer.Output!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Contain("survives a restart");
        restarted.Spool.Messages.Count(m => m.PromptReceipt?.Status == PromptStatus.Delivered).Should().Be(1);
    }
}
