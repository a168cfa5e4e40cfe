using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Relay.Channel.Mcp;

/// <summary>
/// The notifications relay-channel sends to Claude Code. Claude Code never acknowledges them: a send completes when
/// the line is written to stdout.
/// </summary>
internal sealed class ClaudeNotifications(IServiceProvider services)
{
    /// <summary>A channel event: Claude sees <c>&lt;channel source="relay" key="value"…&gt;content&lt;/channel&gt;</c>.</summary>
    public const string ChannelMethod = "notifications/claude/channel";

    /// <summary>Claude Code asks the channel to relay a permission prompt.</summary>
    public const string PermissionRequestMethod = "notifications/claude/channel/permission_request";

    /// <summary>The channel answers a relayed permission prompt.</summary>
    public const string PermissionMethod = "notifications/claude/channel/permission";

    // Resolved on first use: the server is built from options that themselves depend on channel services.
    private McpServer Server => services.GetRequiredService<McpServer>();

    /// <summary>Pushes a channel event. <paramref name="meta"/> must already hold only identifier keys.</summary>
    public Task SendChannelEventAsync(string content, IReadOnlyDictionary<string, string> meta, CancellationToken cancellationToken)
    {
        var metaObject = new JsonObject();
        foreach (var (key, value) in meta)
        {
            metaObject[key] = value;
        }

        return Server.SendMessageAsync(
            new JsonRpcNotification { Method = ChannelMethod, Params = new JsonObject { ["content"] = content, ["meta"] = metaObject } },
            cancellationToken);
    }

    /// <summary>Answers a relayed permission prompt; <paramref name="allow"/> false denies the tool call.</summary>
    public Task SendPermissionVerdictAsync(string requestId, bool allow, CancellationToken cancellationToken) =>
        Server.SendMessageAsync(
            new JsonRpcNotification
            {
                Method = PermissionMethod,
                Params = new JsonObject
                {
                    // Claude Code issues lowercase ids and silently drops a verdict whose id it does not know.
                    ["request_id"] = requestId.ToLowerInvariant(),
                    ["behavior"] = allow ? "allow" : "deny",
                },
            },
            cancellationToken);
}
