using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests;

/// <summary>relay-channel against the npm <c>@modelcontextprotocol/sdk</c> client, a real peer in another language.</summary>
public sealed class NodePeerTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("relay-channel-");
    private readonly CancellationTokenSource _timeout = TestTimeout.Start();
    private readonly string _claudeSessionId = Guid.NewGuid().ToString();
    private AgentDouble _agent = null!;

    private CancellationToken Timeout => _timeout.Token;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory.Path);
        _agent = await AgentDouble.StartAsync(Path.Combine(_directory.Path, "agent.sock"));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _timeout.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task NpmClient_SeesCapabilitiesEventsAndVerdicts_AndItsReplyReachesTheAgent()
    {
        await using var peer = NodePeer.Start(ChannelUnderTest.Environment(_agent.SocketPath, _claudeSessionId));

        var initialize = (await peer.WaitForAsync("initialize", Timeout))["result"]!.AsObject();
        initialize["protocolVersion"]!.GetValue<string>().Should().Be("2025-06-18");
        initialize["serverInfo"]!["name"]!.GetValue<string>().Should().Be("relay");
        var experimental = initialize["capabilities"]!["experimental"]!.AsObject();
        experimental["claude/channel"]!.AsObject().Should().BeEmpty();
        experimental["claude/channel/permission"]!.AsObject().Should().BeEmpty();
        initialize["capabilities"]!.AsObject().ContainsKey("tools").Should().BeTrue();
        initialize["instructions"]!.GetValue<string>().Should().Contain("prompt_id");
        var tools = (await peer.WaitForAsync("tools", Timeout))["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>());
        tools.Should().Contain(["reply", "list_sessions", "send_message", "session_history", "launch_session"]);
        await peer.WaitForAsync("ready", Timeout);

        // A prompt from the agent reaches the npm client's notification handler.
        var stream = await _agent.WaitForStreamAsync(Timeout);
        stream.Hello.ClaudeSessionId.Should().Be(_claudeSessionId);
        await stream.SendAsync(Messages.Prompt("p-node", "What is the build status?", sender: "bob"));
        var eventParams = (await peer.WaitForAsync("notification", Timeout, l => (string?)l["method"] == "notifications/claude/channel"))["params"]!.AsObject();
        eventParams["content"]!.GetValue<string>().Should().Be("What is the build status?");
        eventParams["meta"]!["prompt_id"]!.GetValue<string>().Should().Be("p-node");
        eventParams["meta"]!["sender"]!.GetValue<string>().Should().Be("bob");

        // The npm client answers with the reply tool, passing the event's prompt_id.
        await peer.SendAsync(new JsonObject
        {
            ["cmd"] = "call",
            ["id"] = "r1",
            ["name"] = "reply",
            ["arguments"] = new JsonObject { ["text"] = "Green.", ["prompt_id"] = eventParams["meta"]!["prompt_id"]!.GetValue<string>() },
        });
        var toolResult = (await peer.WaitForAsync("tool_result", Timeout))["result"]!.AsObject();
        toolResult["isError"]?.GetValue<bool>().Should().NotBe(true);
        toolResult["content"]![0]!["text"]!.GetValue<string>().Should().Be("sent");
        var reply = await _agent.Received.WaitForAsync(m => m.Reply, Timeout);
        reply.Text.Should().Be("Green.");
        reply.InReplyTo.Should().Be("p-node");

        // Permission relay both ways.
        await peer.SendAsync(new JsonObject
        {
            ["cmd"] = "notify",
            ["method"] = "notifications/claude/channel/permission_request",
            ["params"] = new JsonObject { ["request_id"] = "qrstu", ["tool_name"] = "Bash", ["description"] = "Run shell command", ["input_preview"] = "{\"command\":\"make\"}" },
        });
        (await _agent.Received.WaitForAsync(m => m.PermissionRequest, Timeout)).RequestId.Should().Be("qrstu");
        await stream.SendAsync(Messages.Verdict("qrstu", ApprovalDecision.Deny));
        var verdict = (await peer.WaitForAsync("notification", Timeout, l => (string?)l["method"] == "notifications/claude/channel/permission"))["params"]!.AsObject();
        verdict["request_id"]!.GetValue<string>().Should().Be("qrstu");
        verdict["behavior"]!.GetValue<string>().Should().Be("deny");

        await peer.SendAsync(new JsonObject { ["cmd"] = "close" });
        await peer.WaitForAsync("closed", Timeout);
        (await peer.WaitForExitAsync(Timeout)).Should().Be(0, peer.Stderr);
        peer.Lines.Snapshot().Should().NotContain(l => (string?)l["kind"] == "error", peer.Stderr);
    }
}
