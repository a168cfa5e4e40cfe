using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Relay.Channel.Hosting;

namespace Relay.Channel.Mcp;

/// <summary>
/// What relay-channel tells Claude Code in the <c>initialize</c> handshake, and the notifications it listens to.
/// </summary>
internal sealed class ChannelServerSetup(McpHandshake handshake, PermissionRelay permissions) : IConfigureOptions<McpServerOptions>
{
    /// <summary>The server name Claude Code is configured with (<c>mcp__relay__reply</c>, <c>server:relay</c>).</summary>
    public const string ServerName = "relay";

    /// <summary>
    /// The MCP revision the channel answers with. Claude Code 2.1.328 refuses channel delivery on a connection that
    /// negotiated a stateless revision (2026-07-28, which the SDK may pick by default); 2025-06-18 is an
    /// initialize-era revision it accepts (verified with the real CLI). Pinning also makes the SDK reject 2026-07-28
    /// per-request metadata.
    /// </summary>
    public const string ProtocolVersion = "2025-06-18";

    public void Configure(McpServerOptions options)
    {
        options.ServerInfo = new Implementation { Name = ServerName, Title = "Relay", Version = ChannelIdentity.CurrentVersion };
        options.ProtocolVersion = ProtocolVersion;
        options.ServerInstructions = ChannelInstructions.Text;
        options.Capabilities ??= new ServerCapabilities();
        options.Capabilities.Experimental = new Dictionary<string, object>
        {
            // Presence (an empty object) makes Claude Code register its channel listener for this server.
            ["claude/channel"] = new JsonObject(),
            // Opts in to permission relay; the agent only passes on verdicts from authenticated Relay users.
            ["claude/channel/permission"] = new JsonObject(),
        };
        options.Capabilities.Tools ??= new ToolsCapability();
        options.Handlers.NotificationHandlers =
        [
            .. options.Handlers.NotificationHandlers ?? [],
            new(NotificationMethods.InitializedNotification, handshake.OnInitializedAsync),
            new(ClaudeNotifications.PermissionRequestMethod, permissions.OnPermissionRequestAsync),
        ];
    }
}
