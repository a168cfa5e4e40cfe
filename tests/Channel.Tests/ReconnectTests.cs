using Relay.Channel.Tests.Infrastructure;

namespace Relay.Channel.Tests;

/// <summary>An agent restart while Claude works: the channel re-attaches and nothing is lost or doubled.</summary>
public sealed class ReconnectTests : ChannelTestBase
{
    protected override IReadOnlyDictionary<string, string?> ChannelEnvironment => new Dictionary<string, string?>
    {
        ["Channel__ReplyTimeout"] = "00:01:00",
    };

    [Fact]
    public async Task Reply_AgentRestartsMidReply_ToolReturnsSentAndTheNewAgentGetsItOnce()
    {
        Agent.AcceptReplies = false;
        await Agent.WaitForStreamAsync(Timeout);

        var call = Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "answer", ["prompt_id"] = "p-1" }, cancellationToken: Timeout).AsTask();
        var sent = await Agent.Received.WaitForAsync(m => m.Reply, Timeout);
        call.IsCompleted.Should().BeFalse("the old agent never confirmed the reply");

        var restarted = await RestartAgentAsync();
        var result = await call.WaitAsync(Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        result.Text().Should().Be("sent");
        var stream = await restarted.WaitForStreamAsync(Timeout);
        stream.Hello.Reattach.Should().BeTrue();
        stream.Hello.ClaudeSessionId.Should().Be(ClaudeSessionId);
        restarted.Received.Snapshot().Where(m => m.Reply != null).Select(m => m.Reply.ReplyId).Should().Equal([sent.ReplyId], Channel.Log + "\nstreams: " + restarted.Streams.Snapshot().Count);
    }

    [Fact]
    public async Task Reattach_ResendsMcpInitializedAndStillDropsDuplicatePrompts()
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);
        await stream.SendAsync(Messages.Prompt("p-1", "before the restart"));
        await Agent.Received.WaitForAsync(m => m.PromptAck, Timeout);

        var restarted = await RestartAgentAsync();
        var second = await restarted.WaitForStreamAsync(Timeout);
        var initialized = await restarted.Received.WaitForAsync(m => m.McpInitialized, Timeout);
        initialized.ClientName.Should().Be("claude-code");

        // The agent re-sends a prompt whose ack it may have missed.
        await second.SendAsync(Messages.Prompt("p-1", "before the restart"));
        await second.SendAsync(Messages.Prompt("p-2", "after the restart"));
        await restarted.Received.WaitForAsync(m => m.PromptAck is { PromptId: "p-2" } a ? a : null, Timeout);

        // Acks are written in order. (An ack the old stream was still writing when it broke may come again first: a
        // write can fail after its bytes left, and the message stays queued. The agent tolerates that.)
        var acks = restarted.Received.Snapshot().Where(m => m.PromptAck?.PromptId == "p-1").Select(m => m.PromptAck).ToList();
        acks.Should().Contain(a => a.Duplicate, "the repeat is acknowledged as a duplicate");
        await Channel.WaitForEventAsync("p-1", Timeout);
        await Channel.WaitForEventAsync("p-2", Timeout);
        Channel.CountEvents("p-1").Should().Be(1);
    }
}
