using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Relay.Bench.Prompts;

/// <summary>
/// The bench playing Claude Code for one session: it starts the real relay-channel the way Claude Code starts an MCP
/// server (the <c>command</c> and <c>args</c> <c>relay-agent install</c> registers, with Claude's environment plus
/// <c>CLAUDE_CODE_SESSION_ID</c> and <c>CLAUDE_PROJECT_DIR</c>, in the project directory), completes the MCP handshake
/// with the SDK's client, and answers every <c>notifications/claude/channel</c> event at once by calling the
/// <c>reply</c> tool with the event's prompt id.
/// </summary>
/// <remarks>
/// The channel's parent process stands for the Claude Code process: a <c>bash</c> whose command line carries
/// <c>--dangerously-load-development-channels server:relay</c>, as a channel-enabled Claude's does. The agent reads
/// that command line (the channel's ChannelHello names its parent pid) to decide whether the session can take prompts
/// through its channel; without the flag it would keep them for hooks, as it must for a real Claude that drops channel
/// events. bash runs the channel as a child (not exec: the script goes on after it), so the parent stays put and its
/// stdin and stdout are the channel's.
/// </remarks>
internal sealed class SimulatedClaude : IAsyncDisposable
{
    /// <summary>Reply tool calls in flight at once: "at once" for every event, but bounded.</summary>
    private const int Repliers = 16;

    private const int StderrLines = 100;
    private const string ChannelMethod = "notifications/claude/channel";
    private static readonly TimeSpan ReplyCallTimeout = TimeSpan.FromSeconds(30);

    private readonly Channel<(string? Content, string? PromptId, long At)> _events =
        System.Threading.Channels.Channel.CreateBounded<(string?, string?, long)>(new BoundedChannelOptions(100_000) { SingleWriter = false, SingleReader = false });

    private readonly RoundTripLedger _ledger;
    private readonly Queue<string> _stderr = new();
    private readonly CancellationTokenSource _stop = new();
    private McpClient? _client;
    private Task _repliers = Task.CompletedTask;

    private SimulatedClaude(int index, string claudeSessionId, RoundTripLedger ledger)
    {
        Index = index;
        ClaudeSessionId = claudeSessionId;
        _ledger = ledger;
    }

    /// <summary>Which of the run's sessions this is (prompt i goes to session i mod sessions).</summary>
    public int Index { get; }

    /// <summary>The Claude session id it runs under (CLAUDE_CODE_SESSION_ID).</summary>
    public string ClaudeSessionId { get; }

    /// <summary>
    /// Starts relay-channel under a stand-in Claude process and completes the MCP handshake (initialize, then
    /// notifications/initialized).
    /// </summary>
    /// <param name="index">The session's index in the run.</param>
    /// <param name="claudeEnvironment">What a Claude process of the machine has in its environment (the agent's socket).</param>
    /// <param name="projectDirectory">The session's project directory (its cwd and CLAUDE_PROJECT_DIR).</param>
    /// <param name="ledger">Where notifications and replies are recorded.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    public static async Task<SimulatedClaude> StartAsync(
        int index, IReadOnlyDictionary<string, string> claudeEnvironment, string projectDirectory, RoundTripLedger ledger, CancellationToken cancellationToken)
    {
        var claude = new SimulatedClaude(index, Guid.NewGuid().ToString(), ledger);
        Directory.CreateDirectory(projectDirectory);
        var environment = claudeEnvironment.ToDictionary(e => e.Key, e => (string?)e.Value, StringComparer.Ordinal);
        environment["CLAUDE_CODE_SESSION_ID"] = claude.ClaudeSessionId;
        environment["CLAUDE_PROJECT_DIR"] = projectDirectory;
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "relay",
            // $0 names the stand-in, $1 is the channel (the MCP entry's command and args: dotnet + relay-channel.dll),
            // the rest is the flag a channel-enabled Claude has on its command line.
            Command = "/bin/bash",
            Arguments = ["-c", "dotnet \"$1\"; exit $?", "claude", Path.Combine(AppContext.BaseDirectory, "relay-channel.dll"),
                "--dangerously-load-development-channels", "server:relay"],
            WorkingDirectory = projectDirectory,
            // The machine's Claude environment and nothing of the bench's (no other agent's socket).
            InheritEnvironmentVariables = false,
            EnvironmentVariables = environment,
            StandardErrorLines = claude.OnStderr,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        });
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "claude-code", Version = "relay-bench" },
            Handlers = new McpClientHandlers { NotificationHandlers = [new(ChannelMethod, claude.OnChannelEventAsync)] },
        };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            claude._client = await McpClient.CreateAsync(transport, options, cancellationToken: timeout.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"relay-channel for simulated Claude {index} did not complete the MCP handshake: {ex.Message}\n{claude.Stderr()}", ex);
        }

        claude._repliers = Task.WhenAll(Enumerable.Range(0, Repliers).Select(_ => Task.Run(claude.ReplyLoopAsync, CancellationToken.None)));
        return claude;
    }

    /// <summary>The channel's stderr (its log), last lines, for failure messages.</summary>
    public string Stderr()
    {
        lock (_stderr)
        {
            return string.Join('\n', _stderr);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _events.Writer.TryComplete();
        await _stop.CancelAsync();
        await _repliers.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_client is not null)
        {
            // Closes the channel's stdin (it exits 0, and so does its stand-in parent), then waits for it.
            await _client.DisposeAsync();
        }

        _stop.Dispose();
    }

    // Called by the MCP client as each notification arrives: take the time, hand the event to a replier, return.
    private ValueTask OnChannelEventAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        var at = Stopwatch.GetTimestamp();
        var content = notification.Params?["content"] is JsonValue text && text.TryGetValue(out string? c) ? c : null;
        var promptId = notification.Params?["meta"]?["prompt_id"] is JsonValue value && value.TryGetValue(out string? id) ? id : null;
        if (!_events.Writer.TryWrite((content, promptId, at)))
        {
            _ledger.Problem($"simulated Claude {Index} could not keep up with its channel events");
        }

        return ValueTask.CompletedTask;
    }

    private async Task ReplyLoopAsync()
    {
        try
        {
            await foreach (var (content, promptId, at) in _events.Reader.ReadAllAsync(_stop.Token))
            {
                if (!_ledger.TryIndexOfPrompt(content, out var i) || string.IsNullOrEmpty(promptId))
                {
                    _ledger.Problem($"simulated Claude {Index} got a channel event that is no prompt of the run: prompt_id {promptId ?? "missing"}, '{content}'");
                    continue;
                }

                if (_ledger.SessionOf(i) != Index)
                {
                    _ledger.Problem($"prompt {promptId} for session {_ledger.SessionOf(i)} reached simulated Claude {Index}");
                }

                if (_ledger.OnNotified(i, promptId, at))
                {
                    await ReplyAsync(i, promptId);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private async Task ReplyAsync(int i, string promptId)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ReplyCallTimeout);
        try
        {
            var result = await _client!.CallToolAsync(
                "reply",
                new Dictionary<string, object?> { ["text"] = RoundTripLedger.ReplyText(i), ["prompt_id"] = promptId },
                cancellationToken: timeout.Token);
            var text = string.Join(' ', result.Content.OfType<TextContentBlock>().Select(c => c.Text));
            if (result.IsError == true || text != "sent")
            {
                _ledger.Problem($"the reply tool answered prompt {promptId} with {(result.IsError == true ? "an error" : "something else")}: {text}");
                return;
            }

            _ledger.OnReplied(i, Stopwatch.GetTimestamp());
        }
        catch (Exception ex) when (ex is McpException or IOException or InvalidOperationException or OperationCanceledException && !_stop.IsCancellationRequested)
        {
            _ledger.Problem($"the reply tool call for prompt {promptId} failed: {ex.Message}");
        }
    }

    private void OnStderr(string line)
    {
        lock (_stderr)
        {
            _stderr.Enqueue(line);
            while (_stderr.Count > StderrLines)
            {
                _stderr.Dequeue();
            }
        }
    }
}
