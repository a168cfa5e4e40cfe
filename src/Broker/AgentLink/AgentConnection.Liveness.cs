using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    /// <summary>
    /// Heartbeats when the broker has sent nothing for the heartbeat interval; ends the stream when the agent has sent
    /// nothing (not even a heartbeat) for the peer timeout. The PresenceSweeper calls it for every live stream on one
    /// timer (a timer per stream was most of an idle replica's CPU); time comes from the injected TimeProvider.
    /// </summary>
    public void CheckLiveness(DateTimeOffset now)
    {
        var options = _services.Options;
        if (_end is not null)
        {
            return;
        }

        // A reader waiting for the replica's InboundBudget is not listening: what the agent sent meanwhile is unread.
        if (now - LastHeard >= options.PeerTimeout && !_waitingForBudget)
        {
            End(new ConnectionEnd(ConnectionEndKind.DeadPeer, $"Nothing was heard from the agent for {options.PeerTimeout}."));
            return;
        }

        if (now - LastSent >= options.HeartbeatInterval)
        {
            // Counted as sent now: the pump may take a moment, and one heartbeat per interval is enough.
            LastSent = now;
            TrySend(new BrokerMessage { Heartbeat = new Heartbeat { SentAt = Timestamp.FromDateTimeOffset(now) } });
        }
    }
}
