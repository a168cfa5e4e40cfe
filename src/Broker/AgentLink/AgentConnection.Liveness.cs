using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    /// <summary>
    /// Heartbeats when the broker has sent nothing for the heartbeat interval; ends the stream when the agent has sent
    /// nothing (not even a heartbeat) for the peer timeout. Time comes from the injected TimeProvider, so tests move it.
    /// </summary>
    private async Task WatchLivenessAsync()
    {
        var options = _services.Options;
        var period = TimeSpan.FromTicks(Math.Max(Math.Min(options.HeartbeatInterval.Ticks, options.PeerTimeout.Ticks) / 4, TimeSpan.TicksPerMillisecond * 10));
        using var timer = new PeriodicTimer(period, _services.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = _services.Time.GetUtcNow();
                if (now - LastHeard >= options.PeerTimeout)
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
        catch (OperationCanceledException)
        {
            // The stream ended.
        }
    }
}
