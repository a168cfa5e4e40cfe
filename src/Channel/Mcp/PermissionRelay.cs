using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using ModelContextProtocol.Protocol;
using Relay.Channel.Agent;
using Relay.Protocol.V1;

namespace Relay.Channel.Mcp;

/// <summary>
/// Permission relay, both ways: Claude Code's <c>notifications/claude/channel/permission_request</c> goes to the agent
/// as ChannelPermissionRequest; a PermissionVerdict coming back becomes <c>notifications/claude/channel/permission</c>.
/// </summary>
internal sealed class PermissionRelay(AgentAttach link, ClaudeNotifications notifications, TimeProvider time, ILogger<PermissionRelay> logger)
{
    /// <summary>The <c>permission_request</c> handler. All fields are untrusted text and parsed leniently.</summary>
    public async ValueTask OnPermissionRequestAsync(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        var parameters = notification.Params as JsonObject;
        var request = new ChannelPermissionRequest
        {
            RequestId = Text(parameters, "request_id"),
            ToolName = Text(parameters, "tool_name"),
            Description = Text(parameters, "description"),
            InputPreview = Text(parameters, "input_preview"),
            ReceivedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        };
        if (request.RequestId.Length == 0)
        {
            McpLog.PermissionRequestWithoutId(logger);
            return;
        }

        McpLog.PermissionRequested(logger, request.RequestId, request.ToolName, link.IsAttached);
        await link.EnqueueAsync(new ChannelMessage { PermissionRequest = request }, cancellationToken);
    }

    /// <summary>Passes a verdict from the agent to Claude Code.</summary>
    public async Task OnVerdictAsync(PermissionVerdict verdict, CancellationToken cancellationToken)
    {
        if (verdict.ClaudeRequestId.Length == 0 || verdict.Decision == ApprovalDecision.Unspecified)
        {
            McpLog.VerdictUnusable(logger, verdict.ApprovalId, verdict.ClaudeRequestId, verdict.Decision);
            return;
        }

        var allow = verdict.Decision == ApprovalDecision.Allow;
        await notifications.SendPermissionVerdictAsync(verdict.ClaudeRequestId, allow, cancellationToken);
        McpLog.VerdictSent(logger, verdict.ClaudeRequestId, allow ? "allow" : "deny");
    }

    private static string Text(JsonObject? parameters, string name) =>
        parameters?[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>()
        : parameters?[name] is { } other ? other.ToJsonString()
        : "";
}
