using Relay.Agent.Prompts;
using Relay.Agent.Tests.Local;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Prompts;

/// <summary>A prompt from the broker goes to Claude before its journal line is fsynced, and is acked only after.</summary>
public sealed class PromptJournalTests
{
    [Fact]
    public async Task Inbound_PromptForAttachedSession_ReachesTheChannelBeforeTheFlushAndReturnsAfterIt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        var flush = new HeldFlush(ct);
        await using var agent = await LocalAgentHarness.StartAsync(o => o.PromptJournalFlush = flush.Flush);
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(1101, claude), ct);
        var prompt = Prompt(claudeSessionId: claude);

        // The link acks the broker once this returns; the journal's writer is the caller's thread, so not the test's.
        var inbound = Task.Run(async () => await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct), ct);
        await flush.EnteredAsync();

        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        inbound.IsCompleted.Should().BeFalse("the broker's ack waits until the prompt is on disk");

        flush.Release();
        await inbound;
        File.ReadAllText(Path.Combine(agent.Directory, "state", "prompts.log")).Should().Contain(prompt.PromptId);
        flush.Open();
    }

    [Fact]
    public async Task Inbound_FlushFails_PromptIsForgottenAndTheBrokersResendReachesTheChannelAgain()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        var flush = new HeldFlush(ct);
        await using var agent = await LocalAgentHarness.StartAsync(o => o.PromptJournalFlush = flush.Flush);
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(1102, claude), ct);
        var prompt = Prompt(claudeSessionId: claude);
        var delivery = new BrokerMessage { Seq = 1, PromptDelivery = prompt };

        flush.FailNext(new IOException("disk gone"));
        var first = Task.Run(async () => await agent.InboundAsync(delivery, ct), ct);
        await flush.EnteredAsync();
        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        flush.Release();

        // Not on disk, so not acked: the queue lets it go, and the broker's re-send is taken as new.
        await first.Invoking(t => t).Should().ThrowAsync<IOException>();
        agent.Get<PromptQueue>().PendingCount.Should().Be(0);

        flush.Open();
        await agent.InboundAsync(delivery, ct);
        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        await channel.SendAsync(Ack(prompt.PromptId, duplicate: true), ct);
        var receipt = (await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct)).PromptReceipt;
        receipt.Status.Should().Be(PromptStatus.Delivered);
        agent.Spool.Messages.Count(m => m.PromptReceipt is not null).Should().Be(1);
    }
}
