using System.Text;
using System.Text.Json;
using Relay.Channel.Tests.Infrastructure;

namespace Relay.Channel.Tests;

/// <summary>What Claude Code sees in the handshake: name, protocol revision, capabilities, instructions and tools.</summary>
public sealed class McpSurfaceTests : ChannelTestBase
{
    [Fact]
    public void Initialize_DeclaresChannelCapabilitiesToolsAndPinnedProtocol()
    {
        Channel.Client.ServerInfo!.Name.Should().Be("relay");
        Channel.Client.ServerInfo.Version.Should().Be("0.1.0");
        Channel.Client.NegotiatedProtocolVersion.Should().Be("2025-06-18");

        var capabilities = JsonSerializer.SerializeToElement(Channel.Client.ServerCapabilities);
        var experimental = capabilities.GetProperty("experimental");
        experimental.GetProperty("claude/channel").ValueKind.Should().Be(JsonValueKind.Object);
        experimental.GetProperty("claude/channel").EnumerateObject().Should().BeEmpty();
        experimental.GetProperty("claude/channel/permission").ValueKind.Should().Be(JsonValueKind.Object);
        capabilities.TryGetProperty("tools", out _).Should().BeTrue();
    }

    [Fact]
    public void Initialize_InstructionsExplainEventsUntrustedSendersAndReply_Under2KB()
    {
        var instructions = Channel.Client.ServerInstructions;

        instructions.Should().NotBeNull();
        Encoding.UTF8.GetByteCount(instructions!).Should().BeLessThanOrEqualTo(2048);
        instructions.Should().Contain("<channel source=\"relay\" prompt_id=").And.Contain("sender=");
        instructions.Should().Contain("untrusted");
        instructions.Should().Contain("`reply`").And.Contain("prompt_id");
    }

    [Fact]
    public async Task ListTools_OffersReplyAndTheSessionTools()
    {
        var tools = await Channel.Client.ListToolsAsync(cancellationToken: Timeout);

        tools.Select(t => t.Name).Should().BeEquivalentTo("reply", "list_sessions", "send_message", "session_history", "launch_session");
        var reply = tools.Single(t => t.Name == "reply").ProtocolTool;
        reply.InputSchema.GetProperty("properties").GetProperty("text").GetProperty("type").GetString().Should().Be("string");
        reply.InputSchema.GetProperty("properties").TryGetProperty("prompt_id", out _).Should().BeTrue();
        reply.InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Should().Equal("text");
        reply.Description.Should().NotBeNullOrEmpty();
        reply.Description!.Length.Should().BeLessThan(2048);
        var send = tools.Single(t => t.Name == "send_message").ProtocolTool;
        send.InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Should().Equal("to", "text");
    }

    [Fact]
    public async Task Attach_HelloIdentifiesTheSessionAndMcpInitializedFollows()
    {
        var hello = (await Agent.WaitForStreamAsync(Timeout)).Hello;

        hello.ClaudeSessionId.Should().Be(ClaudeSessionId);
        hello.LaunchId.Should().Be("launch-1");
        hello.ProjectDir.Should().Be("/work/project");
        hello.ClaudePid.Should().Be(Environment.ProcessId, "the test process started relay-channel, as Claude Code would");
        hello.ChannelPid.Should().BePositive().And.NotBe(Environment.ProcessId);
        hello.ChannelVersion.Should().Be("0.1.0");
        hello.Cwd.Should().NotBeNullOrEmpty();
        hello.Reattach.Should().BeFalse();

        var initialized = await Agent.Received.WaitForAsync(m => m.McpInitialized, Timeout);
        initialized.ClientName.Should().Be("claude-code");
        initialized.ClientVersion.Should().Be("2.1.328-test");
        initialized.ProtocolVersion.Should().Be("2025-06-18");
    }
}
