using Relay.Protocol.V1;

namespace Relay.Agent.Link;

/// <summary>
/// The agent's side of AgentLink.Connect, as the rest of the agent sees it. The link drains <see cref="Spool.IAgentSpool"/>
/// to the broker and hands what the broker sends to <see cref="IBrokerInbound"/>; it reconnects by itself (exponential
/// backoff with jitter) and resumes from acknowledged positions.
/// </summary>
internal interface IBrokerLink
{
    /// <summary>The link's state for status and the channel's attachment (<c>broker_connected</c>).</summary>
    BrokerLinkState State { get; }

    /// <summary>True while a stream is up (after Welcome).</summary>
    bool IsConnected { get; }

    /// <summary>Raised (on a thread pool thread) when <see cref="IsConnected"/> changes.</summary>
    event Action<bool>? ConnectionChanged;

    /// <summary>
    /// Sends an unsequenced <see cref="ToolCall"/> (its request_id is assigned here) and waits for the broker's
    /// <see cref="ToolResult"/>. Throws <see cref="Relay.Grpc.RpcException"/> with UNAVAILABLE when the link is down or
    /// drops before the answer, DEADLINE_EXCEEDED when <paramref name="timeout"/> passes.
    /// </summary>
    Task<ToolResult> CallToolAsync(ToolCall call, TimeSpan timeout, CancellationToken cancellationToken);
}
