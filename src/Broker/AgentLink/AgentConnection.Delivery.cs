using Relay.Broker.Signals;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    private long _ackedBrokerSeq;
    private long _pushedBrokerSeq;
    private long _assignedBrokerSeq;
    private TaskCompletionSource _deliveryWake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _refillDue;

    /// <summary>
    /// The machine's outbox → the stream: on connect and whenever work is queued for the machine (MachineOutbound), the
    /// filler numbers new outbox rows; then numbered rows go out in seq order while the agent's window has room. After a
    /// reconnect this resends everything above the agent's position, in order: redelivery is resumption.
    /// </summary>
    private async Task DeliverAsync()
    {
        var topic = BrokerSignals.MachineOutbound(Machine.Id.ToString("D"));
        var token = _stop.Token;
        long filledAt = -1;
        try
        {
            while (!token.IsCancellationRequested)
            {
                // Read the wake-up and the signal version before looking, so nothing that happens after is missed.
                var wake = Volatile.Read(ref _deliveryWake).Task;
                var version = _services.Signals.Version(topic);
                // A signal can be missed (work queued by another replica, or by a writer that did not publish): the
                // PresenceSweeper looks for such work for all streams at once and asks for a look here when it finds some.
                if (version != filledAt || Interlocked.Exchange(ref _refillDue, 0) == 1)
                {
                    filledAt = version;
                    var fill = await _services.Filler.FillAsync(Machine, Id, token);
                    if (fill.LastSeq is { } last && last > Volatile.Read(ref _assignedBrokerSeq))
                    {
                        Volatile.Write(ref _assignedBrokerSeq, last);
                    }

                    foreach (var published in fill.Topics)
                    {
                        _services.Signals.Publish(published);
                    }
                }

                var upTo = Math.Min(Volatile.Read(ref _ackedBrokerSeq) + SendWindow, Volatile.Read(ref _assignedBrokerSeq));
                if (upTo > _pushedBrokerSeq)
                {
                    foreach (var message in await _services.Outbox.ReadAsync(Machine.Id, _pushedBrokerSeq, upTo, token))
                    {
                        if (!TrySend(message))
                        {
                            return;
                        }
                    }

                    _pushedBrokerSeq = upTo;
                    continue;
                }

                using var waiting = CancellationTokenSource.CreateLinkedTokenSource(token);
                await Task.WhenAny(_services.Signals.WaitAsync(topic, filledAt, waiting.Token), wake);
                await waiting.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended; unacked messages stay in the outbox for the next one.
        }
        catch (Exception ex)
        {
            // Unacked messages stay in the outbox: the next stream sends them.
            AgentLinkLog.DeliveryFailed(_services.Logger, ex, Machine.Name);
            End(new ConnectionEnd(ConnectionEndKind.Failure, "The broker could not read this machine's queued messages; reconnect to resume."));
        }
    }

    /// <summary>Asks the delivery loop to look for queued work even without a signal.</summary>
    public void RefillSoon()
    {
        Volatile.Write(ref _refillDue, 1);
        WakeDelivery();
    }

    /// <summary>The agent acknowledged more: room in its window.</summary>
    private void WakeDelivery() =>
        Interlocked.Exchange(ref _deliveryWake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
