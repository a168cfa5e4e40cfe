using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;
using Relay.Tests.Shared.ClaudeCode;
using Xunit.Abstractions;

namespace Relay.Channel.Tests;

/// <summary>
/// relay-channel under the real Claude Code CLI (npm <c>@anthropic-ai/claude-code</c>, pinned), offline, against the
/// scripted Messages API stub: Claude Code spawns the channel, the stub makes Claude call its tools, and what the
/// channel sends reaches the agent double with Claude's session id.
/// </summary>
public sealed class ClaudeCodeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClaudeCodeHome _home = new();
    private readonly TempDirectory _directory = new("relay-channel-");
    private MessagesApiStub _stub = null!;
    private AgentDouble _agent = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory.Path);
        _agent = await AgentDouble.StartAsync(Path.Combine(_directory.Path, "agent.sock"));
        _stub = await MessagesApiStub.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        await _agent.DisposeAsync();
        _home.Dispose();
        _directory.Dispose();
    }

    [ClaudeCodeFact]
    public async Task PrintMode_StubCallsListSessionsAndReply_TheAgentGetsThemWithClaudesSessionId()
    {
        using var timeout = TestTimeout.Start();
        _agent.ToolHandler = _ => new ChannelToolResult
        {
            ListSessions = new ListSessionsToolResponse { Sessions = { new Session { SessionId = "s-1", Name = "reviewer", MachineName = "build-01", Status = SessionStatus.WaitingForInput } } },
        };
        _stub.EnqueueToolUse("mcp__relay__list_sessions", new { })
            .EnqueueToolUse("mcp__relay__reply", new { text = "Reply from the real CLI.", prompt_id = "p-cli" })
            .EnqueueText("Replied.");
        var options = new ClaudeCodeRunOptions
        {
            Prompt = "Answer the Relay message.",
            McpConfig = McpConfig(),
            AllowedTools = ["mcp__relay__reply", "mcp__relay__list_sessions"],
        };

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, options, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        // Claude Code has exited and closed the channel: look at the stream it had.
        var stream = await _agent.Streams.WaitForAsync(s => s, timeout.Token);
        stream.Hello.ClaudeSessionId.Should().Be(options.SessionId.ToString());
        var initialized = await _agent.Received.WaitForAsync(m => m.McpInitialized, timeout.Token);
        initialized.ClientName.Should().Be("claude-code");
        initialized.ClientVersion.Should().Be(ClaudeCodeInstallation.PinnedVersion);
        initialized.ProtocolVersion.Should().Be("2025-06-18");
        var reply = await _agent.Received.WaitForAsync(m => m.Reply, timeout.Token);
        reply.Text.Should().Be("Reply from the real CLI.");
        reply.InReplyTo.Should().Be("p-cli");
        (await _agent.Received.WaitForAsync(m => m.ToolCall, timeout.Token)).ListSessions.Should().NotBeNull();
        _stub.TurnRequests[1].LastToolResults.Single().ToJsonString().Should().Contain("reviewer [id s-1] on build-01");
        _stub.TurnRequests[2].LastToolResults.Single().ToJsonString().Should().Contain("sent");
    }

    [ClaudeCodeFact(RequiresTmux = true)]
    public async Task Interactive_DevChannel_OnlySkipReasonIsTheRemoteFeatureGate()
    {
        using var timeout = TestTimeout.Start();
        var debugFile = _home.PathFor("claude-debug.txt");
        // A user-scope server in ~/.claude.json: reportedly, --mcp-config servers are refused as `server:` channels.
        var claudeJson = _home.ReadClaudeJson();
        claudeJson["mcpServers"] = McpConfig()["mcpServers"]!.DeepClone();
        _home.WriteClaudeJson(claudeJson);
        var options = new ClaudeCodeRunOptions
        {
            Prompt = string.Empty,
            DebugFile = debugFile,
            ExtraArguments = ["--dangerously-load-development-channels", "server:relay"],
        };

        await using var tmux = await ClaudeCodeTmux.StartAsync(_home, _stub.BaseUrl, options, timeout.Token);
        // 2.1.328 asks to confirm development channels on every launch, unless the remote gate is already known to be
        // closed (offline it may not ask at all): accept the dialog when it shows, then wait for the prompt box.
        var screen = await WaitForEitherAsync(tmux, DevChannelsDialogText, ClaudeCodeTmux.PromptReadyText, timeout.Token);
        if (screen.Contains(DevChannelsDialogText, StringComparison.Ordinal))
        {
            output.WriteLine(screen);
            await tmux.SendKeysAsync(timeout.Token, "Enter");
            screen = await tmux.WaitForTextAsync(ClaudeCodeTmux.PromptReadyText, TimeSpan.FromSeconds(60), timeout.Token);
        }

        output.WriteLine(screen);

        // The channel was started and finished its handshake as Claude's MCP server...
        var hello = (await _agent.Streams.WaitForAsync(s => s, timeout.Token)).Hello;
        hello.ClaudeSessionId.Should().Be(options.SessionId.ToString());
        (await _agent.Received.WaitForAsync(m => m.McpInitialized, timeout.Token)).ProtocolVersion.Should().Be("2025-06-18");

        // ...and Claude Code's channel checks let it through everything but the remote gate, which is closed offline.
        var lines = await WaitForChannelDecisionAsync(debugFile, timeout.Token);
        output.WriteLine(string.Join('\n', lines));
        var skips = lines.Where(l => l.Contains("Channel notifications skipped", StringComparison.Ordinal)).ToList();
        skips.Should().NotBeEmpty("offline, the feature gate is closed; a 'registered' line would mean it opened");
        skips.Should().OnlyContain(l => l.Contains("channels feature is not currently available", StringComparison.Ordinal));
        File.ReadAllText(debugFile).Should().NotContain("protocol version has no channel delivery path");
    }

    private const string DevChannelsDialogText = "I am using this for local development";

    private static async Task<string> WaitForEitherAsync(ClaudeCodeTmux tmux, string first, string second, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (await poll.WaitForNextTickAsync(bound.Token))
        {
            var screen = await tmux.CapturePaneAsync(bound.Token);
            if (screen.Contains(first, StringComparison.Ordinal) || screen.Contains(second, StringComparison.Ordinal))
            {
                return screen;
            }
        }

        throw new OperationCanceledException();
    }

    private JsonObject McpConfig() => new()
    {
        ["mcpServers"] = new JsonObject
        {
            ["relay"] = new JsonObject
            {
                ["type"] = "stdio",
                ["command"] = "dotnet",
                ["args"] = new JsonArray(ChannelUnderTest.ChannelDll),
                ["env"] = new JsonObject { ["RELAY_AGENT_SOCKET"] = _agent.SocketPath, ["Logging__LogLevel__Relay"] = "Debug" },
            },
        },
    };

    // Claude Code writes its channel decision to the debug log once the server has connected; there is no other signal,
    // so poll the file (bounded).
    private static async Task<List<string>> WaitForChannelDecisionAsync(string debugFile, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (await poll.WaitForNextTickAsync(bound.Token))
        {
            if (File.Exists(debugFile))
            {
                var lines = (await File.ReadAllLinesAsync(debugFile, bound.Token))
                    .Where(l => l.Contains("channel", StringComparison.OrdinalIgnoreCase)).ToList();
                if (lines.Any(l => l.Contains("Channel notifications", StringComparison.Ordinal)))
                {
                    return lines;
                }
            }
        }

        throw new OperationCanceledException();
    }
}
