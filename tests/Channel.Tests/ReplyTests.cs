using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests;

/// <summary>The reply tool: returns only once the agent has the reply; clear errors otherwise.</summary>
public sealed class ReplyTests : ChannelTestBase
{
    protected override IReadOnlyDictionary<string, string?> ChannelEnvironment => new Dictionary<string, string?>
    {
        ["Channel__ReplyTimeout"] = "00:00:01",
    };

    [Fact]
    public async Task Reply_AgentAccepts_ReturnsSentAndAgentHasTheReply()
    {
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "All 42 tests pass.", ["prompt_id"] = "p-1" }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        result.Text().Should().Be("sent");
        var reply = await Agent.Received.WaitForAsync(m => m.Reply, Timeout);
        reply.Text.Should().Be("All 42 tests pass.");
        reply.InReplyTo.Should().Be("p-1");
        Guid.TryParse(reply.ReplyId, out _).Should().BeTrue();
        reply.CreatedAt.Should().NotBeNull();
    }

    [Fact]
    public async Task Reply_WithoutPromptId_IsAccepted()
    {
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "Unprompted note" }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        (await Agent.Received.WaitForAsync(m => m.Reply, Timeout)).InReplyTo.Should().BeEmpty();
    }

    [Fact]
    public async Task Reply_WithoutText_IsAToolErrorNamingTheArgument()
    {
        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["prompt_id"] = "p-1" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("'text' argument is required");
    }

    [Fact]
    public async Task Reply_LongerThanTheAgentAccepts_IsAToolErrorWithTheLimit()
    {
        await RestartAgentAsync(a => a.Attachment = new Attachment { ChannelId = "ch-2", MaxTextChars = 10 });
        // McpInitialized is re-sent after the channel has taken the new Attachment.
        await Agent.Received.WaitForAsync(m => m.McpInitialized, Timeout);

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "far more than ten characters" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("at most 10");
        Agent.Received.Snapshot().Should().NotContain(m => m.Reply != null);
    }

    [Fact]
    public async Task Reply_AgentRefuses_IsAToolErrorWithTheAgentsReason()
    {
        Agent.RefuseReply = _ => new Notice { Code = ErrorCode.ResourceExhausted, Message = "the spool is full" };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "hello" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("refused").And.Contain("the spool is full");
    }

    [Fact]
    public async Task Reply_AgentNeverConfirms_ErrorSaysKeptThenDeliveredAfterReattach()
    {
        Agent.AcceptReplies = false;
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "slow answer", ["prompt_id"] = "p-9" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("kept").And.Contain("do not send it again");
        var first = await Agent.Received.WaitForAsync(m => m.Reply, Timeout);

        var restarted = await RestartAgentAsync();
        var stream = await restarted.WaitForStreamAsync(Timeout);
        stream.Hello.Reattach.Should().BeTrue();
        var resent = await restarted.Received.WaitForAsync(m => m.Reply, Timeout);
        resent.ReplyId.Should().Be(first.ReplyId);
        resent.Text.Should().Be("slow answer");
        resent.InReplyTo.Should().Be("p-9");
    }

    [Fact]
    public async Task Reply_AgentAway_ErrorWithinTheBoundAndDeliveredWhenTheAgentComes()
    {
        await Agent.WaitForStreamAsync(Timeout);
        await Agent.StopAsync();

        var result = await Channel.Client.CallToolAsync("reply", new Dictionary<string, object?> { ["text"] = "written while the agent was away" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("relay-agent").And.Contain("kept");
        var restarted = await RestartAgentAsync();
        var reply = await restarted.Received.WaitForAsync(m => m.Reply, Timeout);
        reply.Text.Should().Be("written while the agent was away");
    }
}
