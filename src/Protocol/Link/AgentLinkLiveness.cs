namespace Relay.Protocol.Link;

/// <summary>
/// The agent's side of AgentLink's liveness rule (agent_link.proto, LIVENESS), shared by relay-agent and the simulated
/// agents of relay-bench so that both heartbeat alike.
/// </summary>
public static class AgentLinkLiveness
{
    /// <summary>
    /// How long the agent stays quiet before it heartbeats on its own: halfway from the heartbeat interval to the peer
    /// timeout. Later than the broker's heartbeat, which it answers at once, and still in time for the broker's peer
    /// timeout if the broker sends none (15 s and 45 s give 30 s).
    /// </summary>
    public static TimeSpan OwnHeartbeatAfter(TimeSpan heartbeatInterval, TimeSpan peerTimeout) =>
        peerTimeout > heartbeatInterval ? heartbeatInterval + ((peerTimeout - heartbeatInterval) / 2) : heartbeatInterval;
}
