using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>
/// The real relay-channel process (the built relay-channel.dll beside the tests), driven by the MCP C# SDK's own
/// client over stdio, as Claude Code would drive it. Records the notifications the channel sends and its stderr.
/// </summary>
internal sealed class ChannelUnderTest : IAsyncDisposable
{
    private ChannelUnderTest(McpClient client, MessageLog<JsonRpcNotification> notifications, ConcurrentQueue<string> stderr)
    {
        Client = client;
        Notifications = notifications;
        Stderr = stderr;
    }

    public McpClient Client { get; }

    /// <summary>Every notification the channel sent, in order.</summary>
    public MessageLog<JsonRpcNotification> Notifications { get; }

    /// <summary>The channel's stderr (its log).</summary>
    public ConcurrentQueue<string> Stderr { get; }

    public static string ChannelDll => Path.Combine(AppContext.BaseDirectory, "relay-channel.dll");

    /// <summary>The environment every test channel gets: the double's socket and a Claude session id.</summary>
    public static Dictionary<string, string?> Environment(string socketPath, string claudeSessionId, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["RELAY_AGENT_SOCKET"] = socketPath,
            ["CLAUDE_CODE_SESSION_ID"] = claudeSessionId,
            ["CLAUDE_PROJECT_DIR"] = "/work/project",
            ["RELAY_LAUNCH_ID"] = "launch-1",
            ["Logging__LogLevel__Relay"] = "Debug",
            ["Channel__ReconnectMinDelay"] = "00:00:00.050",
            ["Channel__ReconnectMaxDelay"] = "00:00:00.300",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            env[key] = value;
        }

        return env;
    }

    public static async Task<ChannelUnderTest> StartAsync(
        string socketPath,
        string claudeSessionId,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var notifications = new MessageLog<JsonRpcNotification>();
        var stderr = new ConcurrentQueue<string>();
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "relay",
            Command = "dotnet",
            Arguments = [ChannelDll],
            EnvironmentVariables = Environment(socketPath, claudeSessionId, environment),
            StandardErrorLines = stderr.Enqueue,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        });
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "claude-code", Version = "2.1.328-test" },
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new("notifications/claude/channel", (n, _) => { notifications.Add(n); return ValueTask.CompletedTask; }),
                    new("notifications/claude/channel/permission", (n, _) => { notifications.Add(n); return ValueTask.CompletedTask; }),
                ],
            },
        };
        var client = await McpClient.CreateAsync(transport, options, cancellationToken: cancellationToken);
        return new ChannelUnderTest(client, notifications, stderr);
    }

    /// <summary>The channel's log so far, for assertion messages.</summary>
    public string Log => string.Join('\n', Stderr);

    /// <summary>Channel events (<c>notifications/claude/channel</c>) with the given prompt id, so far.</summary>
    public int CountEvents(string promptId) =>
        Notifications.Snapshot().Count(n => n.Method == "notifications/claude/channel" && (string?)n.Params?["meta"]?["prompt_id"] == promptId);

    public Task<JsonObject> WaitForEventAsync(string promptId, CancellationToken cancellationToken) =>
        Notifications.WaitForAsync(
            n => n.Method == "notifications/claude/channel" && (string?)n.Params?["meta"]?["prompt_id"] == promptId ? n.Params!.AsObject() : null,
            cancellationToken);

    public async ValueTask DisposeAsync() => await Client.DisposeAsync();
}
