using System.Text.Json;
using System.Text.RegularExpressions;
using Relay.Broker.Tests.Infrastructure;
using Relay.Channel.Tests.Infrastructure;
using Relay.EndToEnd.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Scenarios;

/// <summary>
/// Scenario 2: <c>relayctl send --wait</c> reaches a live session and the reply comes back, recorded as what it was.
/// </summary>
[Collection(RelayClusterCollection.Name)]
public sealed partial class PromptDeliveryTests(RelayCluster cluster)
{
    private const int MaxToolLoops = 60;

    /// <summary>
    /// The hook fallback with the real Claude Code: <c>claude -p</c> runs without the channel flag, so the agent carries
    /// the prompt in the answer of the next tool hook. The stub keeps Claude busy (a bounded loop of <c>sleep 1</c>
    /// Bash calls) until the prompt text shows up in Claude's next request, then answers with the channel's
    /// <c>reply</c> tool when relay-channel is connected (it is installed as the <c>relay</c> MCP server), otherwise with
    /// plain text that the Stop hook turns into the reply.
    /// </summary>
    [ClaudeCodeFact]
    public async Task SendWait_HookFallbackWithRealClaude_PromptArrivesInNextRequestAndReplyComesBack()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.A;
        var sessionId = Guid.NewGuid();
        var token = "e2e-" + Guid.NewGuid().ToString("N")[..10];
        var answer = "The answer to " + token + " is 4.";
        await using var stub = await MessagesApiStub.StartAsync(timeout.Token);
        StubRequest? sawPrompt = null;
        stub.Fallback = request =>
        {
            if (request.AssistantMessages >= MaxToolLoops + 2)
            {
                return StubTurn.Text("Gave up waiting.");
            }

            if (request.LastToolResults.Any(r => r.ToJsonString().Contains("sent", StringComparison.Ordinal))
                && request.MessagesContain("mcp__relay__reply") && sawPrompt is not null)
            {
                return StubTurn.Text(answer);
            }

            if (sawPrompt is null && request.MessagesContain(token))
            {
                sawPrompt = request;
                var promptId = PromptIdPattern().Match(string.Join('\n', request.MessageTexts)).Groups[1].Value;
                return request.MessagesContain("mcp__relay__reply")
                    ? StubTurn.ToolUse("mcp__relay__reply", new { text = answer, prompt_id = promptId })
                    : StubTurn.Text(answer);
            }

            return sawPrompt is null
                ? StubTurn.ToolUse("Bash", new { command = "sleep 1", description = "Wait a second" })
                : StubTurn.Text(answer);
        };

        var run = machine.RunClaudeAsync(stub, machine.ClaudeOptions("Work until someone writes to you.", sessionId, ["Bash", "mcp__relay__reply"]), timeout.Token);
        var session = await cluster.WaitForSessionAsync(sessionId.ToString(), s => s.GetProperty("status").GetString() != "SESSION_STATUS_ENDED", timeout.Token);
        var sent = await cluster.Relayctl.RunAsync(["send", sessionId.ToString(), token + ": what is 2 + 2?", "--wait", "--timeout", "60s", "--json"], TimeSpan.FromSeconds(90));
        var result = await run;

        sent.ExitCode.Should().Be(0, "send --wait failed: {0}\n{1}", sent.Stderr, result.Describe());
        var reply = sent.Json();
        reply.GetProperty("replies").EnumerateArray().Select(r => r.GetProperty("text").GetString()).Should().Contain(answer, sent.Stdout);
        sawPrompt.Should().NotBeNull("the prompt reaches Claude's next request through the hook answer");
        sawPrompt!.MessageTexts.Should().Contain(t => t.Contains("hook additional context", StringComparison.Ordinal) && t.Contains(token, StringComparison.Ordinal));
        result.ExitCode.Should().Be(0, result.Describe());

        var prompt = await PromptAsync(session.GetProperty("session_id").GetString()!, token, timeout.Token);
        prompt.GetProperty("delivery_path").GetString().Should().Be("DELIVERY_PATH_HOOK_CONTEXT", prompt.ToString());
        prompt.GetProperty("delivered_to_claude_session_id").GetString().Should().Be(sessionId.ToString());
    }

    /// <summary>
    /// The channel path: the real MCP client of the npm SDK stands in for Claude Code (whose channel injection is behind
    /// a feature gate that is closed offline). It spawns relay-channel with machine A's agent variables and a Claude
    /// session id; its command line carries <c>server:relay</c> as Claude's does with the channel flag, so the agent
    /// treats the session as channel-capable. The prompt arrives as <c>notifications/claude/channel</c>, the client
    /// calls <c>reply</c>, and <c>send --wait</c> gets the reply; the prompt is recorded as delivered through the channel.
    /// </summary>
    [Fact]
    public async Task SendWait_ChannelWithRealMcpClient_NotificationArrivesAndReplyComesBack()
    {
        using var timeout = TestTimeout.Start();
        var machine = cluster.A;
        var claudeId = Guid.NewGuid().ToString();
        var token = "e2e-" + Guid.NewGuid().ToString("N")[..10];
        var environment = new Dictionary<string, string?>(machine.ClaudeEnvironment) { ["CLAUDE_CODE_SESSION_ID"] = claudeId, ["HOME"] = machine.Home.Home };
        // `env` execs the channel in place, so its parent stays the peer, whose argv now holds the channel flag's value.
        await using var peer = NodePeer.Start(environment, ["/usr/bin/env", "RELAY_E2E_CHANNEL_FLAG=server:relay", "dotnet", Path.Combine(AppContext.BaseDirectory, "relay-channel.dll")]);
        async Task<System.Text.Json.Nodes.JsonObject> SeeAsync(string kind, Func<System.Text.Json.Nodes.JsonObject, bool>? match = null)
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            bound.CancelAfter(TimeSpan.FromSeconds(45));
            try
            {
                return await peer.WaitForAsync(kind, bound.Token, match);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The MCP client saw no {kind}:\n{string.Join('\n', peer.Lines.Snapshot())}\n{peer.Stderr}\n{machine.Daemon.Log()}");
            }
        }

        await SeeAsync("ready");
        var session = await cluster.WaitForSessionAsync(claudeId, s => s.GetProperty("channel_attached").GetBoolean(), timeout.Token);

        var send = cluster.Relayctl.RunAsync(["send", claudeId, token + ": ping", "--wait", "--timeout", "60s", "--json"], TimeSpan.FromSeconds(90));
        var notification = await SeeAsync("notification",
            n => (string?)n["method"] == "notifications/claude/channel" && ((string?)n["params"]?["content"] ?? string.Empty).Contains(token, StringComparison.Ordinal));
        var promptId = (string?)notification["params"]?["meta"]?["prompt_id"];
        promptId.Should().NotBeNullOrEmpty(notification.ToJsonString());
        await peer.SendAsync(new System.Text.Json.Nodes.JsonObject
        {
            ["cmd"] = "call", ["id"] = "r1", ["name"] = "reply",
            ["arguments"] = new System.Text.Json.Nodes.JsonObject { ["text"] = "pong " + token, ["prompt_id"] = promptId },
        });
        var called = await SeeAsync("tool_result", r => (string?)r["id"] == "r1");
        called.ToJsonString().Should().Contain("sent");

        var sent = await send;
        sent.ExitCode.Should().Be(0, "send --wait failed: {0}\n{1}", sent.Stderr, peer.Stderr);
        sent.Json().GetProperty("replies").EnumerateArray().Select(r => r.GetProperty("text").GetString()).Should().Contain("pong " + token);
        var prompt = await PromptAsync(session.GetProperty("session_id").GetString()!, token, timeout.Token);
        prompt.GetProperty("prompt_id").GetString().Should().Be(promptId);
        prompt.GetProperty("delivery_path").GetString().Should().Be("DELIVERY_PATH_CHANNEL", prompt.ToString());
    }

    /// <summary>The newest state of the prompt whose text holds <paramref name="token"/>, from the session's history.</summary>
    internal async Task<JsonElement> PromptAsync(string session, string token, CancellationToken cancellationToken)
    {
        var events = await cluster.HistoryAsync(session, "prompt-created", "prompt-updated");
        var prompts = events.Where(e => e.TryGetProperty("prompt", out var p) && (p.GetProperty("text").GetString() ?? string.Empty).Contains(token, StringComparison.Ordinal))
            .Select(e => e.GetProperty("prompt"))
            .ToList();
        prompts.Should().NotBeEmpty("the prompt is in the session's history: {0}", string.Join('\n', events));
        cancellationToken.ThrowIfCancellationRequested();
        return prompts[^1];
    }

    [GeneratedRegex(@"\[Relay message ([^\s,\]]+)")]
    private static partial Regex PromptIdPattern();
}
