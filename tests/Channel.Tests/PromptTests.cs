using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests;

/// <summary>Prompts from the agent become <c>notifications/claude/channel</c> events, acknowledged once written.</summary>
public sealed class PromptTests : ChannelTestBase
{
    [Fact]
    public async Task Prompt_FromAgent_PushedAsChannelEventAndAcked()
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);

        await stream.SendAsync(Messages.Prompt("p-1", "Please run the tests", sender: "alice"));

        var parameters = await Channel.WaitForEventAsync("p-1", Timeout);
        parameters["content"]!.GetValue<string>().Should().Be("Please run the tests");
        var meta = parameters["meta"]!.AsObject();
        meta["prompt_id"]!.GetValue<string>().Should().Be("p-1");
        meta["sender"]!.GetValue<string>().Should().Be("alice");
        meta["sender_kind"]!.GetValue<string>().Should().Be("user");
        meta["sent_at"]!.GetValue<string>().Should().Be("2026-11-21T10:30:00Z");
        meta.Select(p => p.Key).Should().OnlyContain(k => k.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'));
        meta.Select(p => p.Value!.GetValueKind()).Should().OnlyContain(k => k == System.Text.Json.JsonValueKind.String);
        parameters.Select(p => p.Key).Should().BeEquivalentTo("content", "meta");

        var ack = await Agent.Received.WaitForAsync(m => m.PromptAck is { PromptId: "p-1" } a ? a : null, Timeout);
        ack.Duplicate.Should().BeFalse();
        ack.WrittenAt.Should().NotBeNull();
    }

    [Fact]
    public async Task Prompt_SeenBefore_AckedAsDuplicateAndNotPushedAgain()
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);

        await stream.SendAsync(Messages.Prompt("p-dup", "first copy"));
        await stream.SendAsync(Messages.Prompt("p-dup", "second copy"));
        await stream.SendAsync(Messages.Prompt("p-after", "a later prompt"));

        // Events are written in order, so once the later prompt's event is here a second push would have been written
        // too. (The SDK client may run notification handlers out of order, so wait for both events.)
        await Channel.WaitForEventAsync("p-dup", Timeout);
        await Channel.WaitForEventAsync("p-after", Timeout);
        Channel.CountEvents("p-dup").Should().Be(1);
        var acks = await Agent.Received.WaitForCountAsync(m => m.PromptAck?.PromptId == "p-dup", 2, Timeout);
        acks.Select(a => a.PromptAck.Duplicate).Should().Equal(false, true);
        acks[1].PromptAck.WrittenAt.Should().Be(acks[0].PromptAck.WrittenAt, "a repeat reports when the prompt was first written");
        (await Channel.WaitForEventAsync("p-dup", Timeout))["content"]!.GetValue<string>().Should().Be("first copy");
    }

    [Fact]
    public async Task SessionMessage_MetaNamesTheSendingSessionAndThread()
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);

        await stream.SendAsync(Messages.SessionMessage("p-s", "Review done, 2 findings", fromSession: "reviewer", fromMachine: "build-01", inReplyTo: "m-7"));

        var meta = (await Channel.WaitForEventAsync("p-s", Timeout))["meta"]!.AsObject();
        meta["sender"]!.GetValue<string>().Should().Be("reviewer");
        meta["sender_kind"]!.GetValue<string>().Should().Be("session");
        meta["from_session"]!.GetValue<string>().Should().Be("reviewer");
        meta["from_session_id"]!.GetValue<string>().Should().Be("sess-9");
        meta["from_machine"]!.GetValue<string>().Should().Be("build-01");
        meta["in_reply_to"]!.GetValue<string>().Should().Be("m-7");
    }

    [Fact]
    public async Task MessageStatus_FromAgent_PushedAsStatusEvent()
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);

        await stream.SendAsync(new AgentToChannelMessage
        {
            SessionMessageStatus = new SessionMessageStatus
            {
                MessageId = "msg-1",
                Status = PromptStatus.Failed,
                TargetSessionName = "reviewer",
                Reason = "policy forbids it",
                ErrorCode = ErrorCode.PermissionDenied,
            },
        });

        var parameters = await Channel.Notifications.WaitForAsync(
            n => n.Method == "notifications/claude/channel" && (string?)n.Params?["meta"]?["kind"] == "message_status" ? n.Params!.AsObject() : null,
            Timeout);
        var meta = parameters["meta"]!.AsObject();
        meta["message_id"]!.GetValue<string>().Should().Be("msg-1");
        meta["status"]!.GetValue<string>().Should().Be("failed");
        meta["to_session"]!.GetValue<string>().Should().Be("reviewer");
        parameters["content"]!.GetValue<string>().Should().Contain("msg-1").And.Contain("not delivered").And.Contain("policy forbids it");
    }
}
