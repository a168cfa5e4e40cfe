using Relay.Protocol.V1;

namespace Relay.Agent.Link;

/// <summary>
/// Receives what the broker sends over the link. Implemented by the agent's local side (sessions, prompts,
/// approvals, launches); called by the link's single reader, in stream order.
/// </summary>
internal interface IBrokerInbound
{
    /// <summary>
    /// The handshake completed: the broker's view of this machine's sessions and every standing briefing. Called
    /// before any sequenced message of the stream. The implementation spools a <see cref="SessionSnapshot"/>.
    /// </summary>
    ValueTask OnWelcomeAsync(Welcome welcome, CancellationToken cancellationToken);

    /// <summary>
    /// A sequenced broker message (prompt_delivery, permission_verdict, launch_request, stop_request,
    /// session_message_status). Returns when its effect is durable on disk (a prompt in the local queue, a verdict
    /// recorded); the link acks it after that. Must not wait for slow work (a launch) to finish: record it, return,
    /// and carry it out in the background. Called once per seq within a stream; retransmissions after a reconnect
    /// may repeat a message, so ids inside are deduplicated by the implementation.
    /// </summary>
    ValueTask HandleSequencedAsync(BrokerMessage message, CancellationToken cancellationToken);

    /// <summary>Unsequenced state from the broker: session_binding or briefing_update.</summary>
    void HandleState(BrokerMessage message);

    /// <summary>Statistics for the agent's heartbeats.</summary>
    AgentStats CollectStats();
}
