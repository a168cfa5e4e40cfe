using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests;

/// <summary>Permission relay: Claude Code's request to the agent, the agent's verdict back to Claude Code.</summary>
public sealed class PermissionRelayTests : ChannelTestBase
{
    [Fact]
    public async Task PermissionRequest_FromClaude_ForwardedToAgent()
    {
        await Agent.WaitForStreamAsync(Timeout);

        await Channel.Client.SendMessageAsync(new JsonRpcNotification
        {
            Method = "notifications/claude/channel/permission_request",
            Params = new JsonObject
            {
                ["request_id"] = "abcde",
                ["tool_name"] = "Bash",
                ["description"] = "Run shell command",
                ["input_preview"] = "{\"command\": \"ls -la\"}",
            },
        }, Timeout);

        var request = await Agent.Received.WaitForAsync(m => m.PermissionRequest, Timeout);
        request.RequestId.Should().Be("abcde");
        request.ToolName.Should().Be("Bash");
        request.Description.Should().Be("Run shell command");
        request.InputPreview.Should().Be("{\"command\": \"ls -la\"}");
        request.ReceivedAt.Should().NotBeNull();
    }

    [Fact]
    public async Task PermissionRequest_WithoutInputPreview_ForwardedWithEmptyPreview()
    {
        await Agent.WaitForStreamAsync(Timeout);

        await Channel.Client.SendMessageAsync(new JsonRpcNotification
        {
            Method = "notifications/claude/channel/permission_request",
            Params = new JsonObject { ["request_id"] = "fghij", ["tool_name"] = "Write", ["description"] = "Write a file" },
        }, Timeout);

        var request = await Agent.Received.WaitForAsync(m => m.PermissionRequest, Timeout);
        request.RequestId.Should().Be("fghij");
        request.InputPreview.Should().BeEmpty();
    }

    [Theory]
    [InlineData(ApprovalDecision.Allow, "allow")]
    [InlineData(ApprovalDecision.Deny, "deny")]
    public async Task Verdict_FromAgent_SentToClaudeWithLowercasedRequestId(ApprovalDecision decision, string behavior)
    {
        var stream = await Agent.WaitForStreamAsync(Timeout);

        await stream.SendAsync(Messages.Verdict("KMNOP", decision));

        var notification = await Channel.Notifications.WaitForAsync(
            n => n.Method == "notifications/claude/channel/permission" ? n : null, Timeout);
        var parameters = notification.Params!.AsObject();
        parameters.Select(p => p.Key).Should().BeEquivalentTo("request_id", "behavior");
        parameters["request_id"]!.GetValue<string>().Should().Be("kmnop");
        parameters["behavior"]!.GetValue<string>().Should().Be(behavior);
    }
}
