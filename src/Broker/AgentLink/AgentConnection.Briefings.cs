using Relay.Broker.Briefings;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    /// <summary>
    /// Keeps the agent's copy of the standing briefings current: the Welcome carries all of them; afterwards, whenever
    /// <see cref="BriefingStore.ChangedTopic"/> is published (a briefing was set or deleted through Admin), this reads them
    /// again and sends a BriefingUpdate for each one that changed or went away. The signal version is read before the
    /// handshake read the briefings for the Welcome, so a change that commits in between is not missed.
    /// </summary>
    private async Task SyncBriefingsAsync(IReadOnlyList<Briefing> welcomed)
    {
        var sent = welcomed.ToDictionary(b => b.Name, StringComparer.Ordinal);
        var seen = _briefingsVersion;
        var token = _stop.Token;
        try
        {
            while (true)
            {
                seen = await _services.Signals.WaitAsync(BriefingStore.ChangedTopic, seen, token);
                var current = (await _services.LinkState.BriefingsAsync(token)).ToDictionary(b => b.Name, StringComparer.Ordinal);
                foreach (var (name, briefing) in current)
                {
                    if (!sent.TryGetValue(name, out var before) || !before.Equals(briefing))
                    {
                        TrySend(new BrokerMessage { BriefingUpdate = new BriefingUpdate { Name = name, Briefing = briefing } });
                    }
                }

                foreach (var name in sent.Keys.Where(name => !current.ContainsKey(name)))
                {
                    TrySend(new BrokerMessage { BriefingUpdate = new BriefingUpdate { Name = name, Deleted = true } });
                }

                sent = current;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended; the next Welcome carries every briefing.
        }
        catch (Exception ex)
        {
            // The agent's copy may be stale now: end the stream, and the next Welcome brings it up to date.
            AgentLinkLog.BriefingSyncFailed(_services.Logger, ex, Machine.Name);
            End(new ConnectionEnd(ConnectionEndKind.Failure, "The broker could not read the standing briefings; reconnect to resume."));
        }
    }
}
