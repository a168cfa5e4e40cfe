using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Relay.Channel.Agent;
using Relay.Protocol.V1;

namespace Relay.Channel.Mcp;

/// <summary>
/// Tracks Claude Code's MCP handshake. Channel events are pushed only after <c>notifications/initialized</c>: before
/// it Claude Code has not registered its channel listener, and an event would be dropped without a trace.
/// </summary>
internal sealed class McpHandshake(IServiceProvider services, AgentAttach link, ILogger<McpHandshake> logger)
{
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when Claude Code has sent <c>notifications/initialized</c>.</summary>
    public Task Initialized => _initialized.Task;

    /// <summary>The <c>notifications/initialized</c> handler.</summary>
    public async ValueTask OnInitializedAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        var server = services.GetRequiredService<McpServer>();
        var client = server.ClientInfo ?? notification.Context?.ClientInfo;
        var summary = new McpInitialized
        {
            ClientName = client?.Name ?? "",
            ClientVersion = client?.Version ?? "",
            ProtocolVersion = server.NegotiatedProtocolVersion ?? notification.Context?.ProtocolVersion ?? "",
        };
        McpLog.Initialized(logger, summary.ClientName, summary.ClientVersion, summary.ProtocolVersion);
        _initialized.TrySetResult();
        await link.SetMcpInitializedAsync(summary, cancellationToken);
    }
}
