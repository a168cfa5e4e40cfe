using Relay.Agent.Prompts;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Local;

public sealed class AttachTests
{
    [Fact]
    public async Task Attach_PromptForAttachedSession_IsWrittenToChannelAndAckSpoolsDeliveredReceipt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();

        using var channel = await agent.AttachAsync(Hello(1001, claude), ct);
        channel.Attachment.ChannelId.Should().NotBeEmpty();
        channel.Attachment.ClaudeSessionId.Should().Be(claude);
        channel.Attachment.MachineName.Should().Be("devbox");
        channel.Attachment.MachineId.Should().Be("m-1");
        channel.Attachment.MaxTextChars.Should().Be(100_000);
        channel.Attachment.BrokerConnected.Should().BeFalse();
        var attached = await agent.Spool.WaitForAsync(m => m.ChannelAttached is not null, ct);
        attached.ChannelAttached.ChannelId.Should().Be(channel.Attachment.ChannelId);
        attached.ChannelAttached.Session.ClaudePid.Should().Be(1001);

        var prompt = Prompt(claudeSessionId: claude);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        var written = await channel.ReadUntilAsync(m => m.Prompt is not null, ct);
        written.Prompt.PromptId.Should().Be(prompt.PromptId);
        written.Prompt.Text.Should().Be(prompt.Text);
        agent.Spool.Messages.Should().NotContain(m => m.PromptReceipt != null, "nothing is delivered before the channel acks");

        await channel.SendAsync(Ack(prompt.PromptId), ct);
        var receipt = (await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct)).PromptReceipt;
        receipt.Status.Should().Be(PromptStatus.Delivered);
        receipt.DeliveryPath.Should().Be(DeliveryPath.Channel);
        receipt.Session.ClaudePid.Should().Be(1001);
        agent.Get<PromptQueue>().PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task Attach_AfterReattach_UnackedPromptIsSentAgainAndDuplicateAckIsOneReceipt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        var prompt = Prompt(claudeSessionId: claude);

        var first = await agent.AttachAsync(Hello(1002, claude), ct);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        (await first.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        first.Dispose(); // the channel's stream breaks before it acks
        await agent.Spool.WaitForAsync(m => m.ChannelDetached?.ChannelId == first.Attachment.ChannelId, ct);

        using var second = await agent.AttachAsync(Hello(1002, claude, reattach: true), ct);
        (await second.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        // The channel had written it before the break: it acks the repeat as a duplicate without pushing it again.
        await second.SendAsync(Ack(prompt.PromptId, duplicate: true), ct);
        await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct);

        // A retransmission from the broker after a reconnect is dropped by id.
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        await second.SendAsync(Ack(prompt.PromptId, duplicate: true), ct);
        await RoundTripAsync(second, ct);
        agent.Spool.Messages.Count(m => m.PromptReceipt?.PromptId == prompt.PromptId).Should().Be(1);
    }

    [Fact]
    public async Task Reply_RightBehindTheAck_SpoolsDeliveredThenTheReplyAndNoSeenReceipt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(1006, claude), ct);
        var prompt = Prompt(claudeSessionId: claude);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        await channel.ReadUntilAsync(m => m.Prompt is not null, ct);

        // What Claude does: the reply tool is called as soon as the event is there, so the reply follows the ack at once.
        await channel.SendAsync(Ack(prompt.PromptId), ct);
        await channel.SendAsync(new ChannelMessage { Reply = new ChannelReply { ReplyId = "reply-7", Text = "Done.", InReplyTo = prompt.PromptId } }, ct);
        (await channel.ReadUntilAsync(m => m.ReplyAccepted is not null, ct)).ReplyAccepted.ReplyId.Should().Be("reply-7");

        // The reply says the prompt was seen (the broker sets it REPLIED): a SEEN receipt would only cost a record.
        agent.Spool.Messages.Where(m => m.PromptReceipt is not null || m.Reply is not null)
            .Select(m => m.PromptReceipt is { } r ? $"receipt {r.Status}" : "reply")
            .Should().Equal("receipt Delivered", "reply");
        agent.Get<PromptQueue>().PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task Reply_ToDeliveredPrompt_AfterRestartThePromptIsNotOfferedAgain()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        using var directory = new Relay.Broker.Tests.Infrastructure.TempDirectory("rla-");
        Directory.CreateDirectory(directory.Path);
        var claude = NewClaudeId();
        var prompt = Prompt(claudeSessionId: claude);
        await using (var agent = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path))
        {
            using var channel = await agent.AttachAsync(Hello(1007, claude), ct);
            await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
            await channel.ReadUntilAsync(m => m.Prompt is not null, ct);
            await channel.SendAsync(Ack(prompt.PromptId), ct);
            await channel.SendAsync(new ChannelMessage { Reply = new ChannelReply { ReplyId = "reply-8", Text = "ok", InReplyTo = prompt.PromptId } }, ct);
            await channel.ReadUntilAsync(m => m.ReplyAccepted is not null, ct);
        }

        // The delivery's "done" line was written beside the reader, and the stream's end waited for it.
        await using var restarted = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path);
        using var again = await restarted.AttachAsync(Hello(1007, claude, reattach: true), ct);
        restarted.Get<PromptQueue>().PendingCount.Should().Be(0);
        (await restarted.Get<PromptQueue>().EnqueueAsync(prompt, string.Empty, local: false, ct)).Should().BeFalse("a finished prompt's id is remembered");
    }

    [Fact]
    public async Task Enqueue_SamePromptConcurrently_IsQueuedAndWrittenToTheChannelOnce()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(1008, claude), ct);
        var prompt = Prompt(claudeSessionId: claude);
        var queue = agent.Get<PromptQueue>();

        var added = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () => await queue.EnqueueAsync(prompt, string.Empty, local: false, ct))));

        added.Count(a => a).Should().Be(1);
        (await channel.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        queue.PendingCount.Should().Be(1);
        await channel.SendAsync(Ack(prompt.PromptId), ct);
        await agent.Spool.WaitForAsync(m => m.PromptReceipt?.PromptId == prompt.PromptId, ct);
        await RoundTripAsync(channel, ct);
        agent.Spool.Messages.Count(m => m.PromptReceipt is not null).Should().Be(1);
    }

    [Fact]
    public async Task Attach_SecondAttachForSameProcess_ReplacesFirstWithConnectionReplaced()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();

        using var first = await agent.AttachAsync(Hello(1003, claude), ct);
        using var second = await agent.AttachAsync(Hello(1003, claude, reattach: true), ct);

        var notice = (await first.ReadUntilAsync(m => m.Notice is not null, ct)).Notice;
        notice.Code.Should().Be(ErrorCode.ConnectionReplaced);
        notice.Closing.Should().BeTrue();
        (await first.EndsAsync(ct)).Should().BeTrue();
        var detached = (await agent.Spool.WaitForAsync(m => m.ChannelDetached?.ChannelId == first.Attachment.ChannelId, ct)).ChannelDetached;
        detached.Reason.Should().Contain("replaced");

        // The session still has a channel (the new one), and prompts go there.
        var prompt = Prompt(claudeSessionId: claude);
        await agent.InboundAsync(new BrokerMessage { Seq = 1, PromptDelivery = prompt }, ct);
        (await second.ReadUntilAsync(m => m.Prompt is not null, ct)).Prompt.PromptId.Should().Be(prompt.PromptId);
        agent.Get<Agent.Sessions.ISessionTracker>().Snapshot().Should().ContainSingle().Which.ChannelAttached.Should().BeTrue();
    }

    [Fact]
    public async Task Reply_ResentAfterReattach_IsSpooledOnceAndAcceptedAsDuplicate()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        var reply = new ChannelMessage { Reply = new ChannelReply { ReplyId = "reply-1", Text = "All tests pass.", InReplyTo = "p-1" } };

        var first = await agent.AttachAsync(Hello(1004, claude), ct);
        await first.SendAsync(reply, ct);
        var accepted = (await first.ReadUntilAsync(m => m.ReplyAccepted is not null, ct)).ReplyAccepted;
        accepted.ReplyId.Should().Be("reply-1");
        accepted.Duplicate.Should().BeFalse();
        first.Dispose();

        using var second = await agent.AttachAsync(Hello(1004, claude, reattach: true), ct);
        await second.SendAsync(reply, ct);
        var again = (await second.ReadUntilAsync(m => m.ReplyAccepted is not null, ct)).ReplyAccepted;
        again.Duplicate.Should().BeTrue();

        var spooled = agent.Spool.Messages.Where(m => m.Reply is not null).Select(m => m.Reply).ToList();
        spooled.Should().ContainSingle();
        spooled[0].Text.Should().Be("All tests pass.");
        spooled[0].Source.Should().Be(ReplySource.ReplyTool);
        spooled[0].Session.ClaudePid.Should().Be(1004);
    }

    [Fact]
    public async Task Reply_AcceptedIdsSurviveAgentRestart()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        using var directory = new TempDirectory("rla-");
        Directory.CreateDirectory(directory.Path);
        var claude = NewClaudeId();
        var reply = new ChannelMessage { Reply = new ChannelReply { ReplyId = "reply-2", Text = "done" } };

        await using (var agent = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path))
        {
            using var channel = await agent.AttachAsync(Hello(1005, claude), ct);
            await channel.SendAsync(reply, ct);
            (await channel.ReadUntilAsync(m => m.ReplyAccepted is not null, ct)).ReplyAccepted.Duplicate.Should().BeFalse();
        }

        await using var restarted = await LocalAgentHarness.StartAsync(o => o.Directory = directory.Path);
        using var again = await restarted.AttachAsync(Hello(1005, claude, reattach: true), ct);
        await again.SendAsync(reply, ct);
        (await again.ReadUntilAsync(m => m.ReplyAccepted is not null, ct)).ReplyAccepted.Duplicate.Should().BeTrue();
        restarted.Spool.Messages.Should().NotContain(m => m.Reply != null);
    }

    [Fact]
    public async Task Reply_TooLong_IsRefusedWithNoticeNamingIt()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync(o => o.Configure = l => l.MaxTextChars = 10);
        using var channel = await agent.AttachAsync(Hello(1006, NewClaudeId()), ct);

        await channel.SendAsync(new ChannelMessage { Reply = new ChannelReply { ReplyId = "long-1", Text = new string('x', 11) } }, ct);
        var notice = (await channel.ReadUntilAsync(m => m.Notice is not null, ct)).Notice;
        notice.Code.Should().Be(ErrorCode.ResourceExhausted);
        notice.RequestId.Should().Be("long-1");
        notice.Message.Should().Contain("at most 10");
        agent.Spool.Messages.Should().NotContain(m => m.Reply != null);
    }

    [Fact]
    public async Task Attach_WithoutHello_IsRefused()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        using var call = agent.Client.AttachAsync(cancellationToken: ct);
        await call.RequestStream.WriteAsync(Ack("p"), ct);

        var read = async () => await call.ResponseStream.MoveNext(ct);
        (await read.Should().ThrowAsync<Relay.Grpc.RpcException>()).Which.StatusCode.Should().Be(Relay.Grpc.StatusCode.InvalidArgument);
    }

    /// <summary>Messages on a stream are handled in order: once a reply is accepted, everything sent before it was handled.</summary>
    internal static async Task RoundTripAsync(TestChannel channel, CancellationToken ct)
    {
        var id = "sync-" + Guid.NewGuid().ToString("N");
        await channel.SendAsync(new ChannelMessage { Reply = new ChannelReply { ReplyId = id, Text = "sync" } }, ct);
        await channel.ReadUntilAsync(m => m.ReplyAccepted?.ReplyId == id, ct);
    }
}
