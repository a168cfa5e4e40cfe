using Relay.Broker.Delivery;
using Relay.Broker.Signals;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    private long _ackedBrokerSeq;
    private long _pushedBrokerSeq;
    private long _assignedBrokerSeq;
    private long _resentThrough;
    private readonly Lock _readyLock = new();
    private readonly SortedList<long, BrokerMessage> _ready = [];
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
                    TakeFilled(fill);
                    foreach (var published in fill.Topics)
                    {
                        _services.Signals.Publish(published);
                    }
                }

                var upTo = Math.Min(Volatile.Read(ref _ackedBrokerSeq) + SendWindow, Volatile.Read(ref _assignedBrokerSeq));
                if (upTo > _pushedBrokerSeq)
                {
                    // What a fill of this stream numbered goes out as it came back from the fill; the rest (a resend
                    // after a reconnect, a window that was full) is read from the outbox.
                    while (_pushedBrokerSeq < upTo && TakeReady(_pushedBrokerSeq + 1) is { } ready)
                    {
                        if (!TrySend(ready))
                        {
                            return;
                        }

                        _pushedBrokerSeq++;
                    }

                    if (upTo > _pushedBrokerSeq)
                    {
                        foreach (var message in await _services.Outbox.ReadAsync(Machine.Id, _pushedBrokerSeq, upTo, _resentThrough, token))
                        {
                            if (!TrySend(message))
                            {
                                return;
                            }
                        }

                        _pushedBrokerSeq = upTo;
                    }

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

    /// <summary>
    /// A fill for this stream committed (its own, or one done inside the transaction of a writer that queued work for
    /// the machine, see LiveStreamFill): its messages are ready to send, in seq order, without reading them back.
    /// </summary>
    public void Filled(FillResult fill)
    {
        if (fill.Sent is { } sent)
        {
            // Before the delivery goes out: the receipt, which can only follow it, finds the prompt remembered.
            _memory.Offer(sent);
        }

        TakeFilled(fill);
        WakeDelivery();
    }

    private void TakeFilled(FillResult fill)
    {
        if (fill.LastSeq is not { } last)
        {
            return;
        }

        lock (_readyLock)
        {
            // Bounded: beyond a window's worth the outbox is the buffer (the agent is not keeping up anyway).
            foreach (var message in fill.Messages)
            {
                if (_ready.Count >= SendWindow)
                {
                    break;
                }

                _ready.TryAdd((long)message.Seq, message);
            }
        }

        // Fills of one stream commit in seq order, but two can hand over their results in either order.
        var assigned = Volatile.Read(ref _assignedBrokerSeq);
        while (last > assigned)
        {
            var seen = Interlocked.CompareExchange(ref _assignedBrokerSeq, last, assigned);
            if (seen == assigned)
            {
                break;
            }

            assigned = seen;
        }
    }

    /// <summary>The message numbered <paramref name="seq"/> if a fill handed it over; drops any older ones left.</summary>
    private BrokerMessage? TakeReady(long seq)
    {
        lock (_readyLock)
        {
            while (_ready.Count > 0 && _ready.Keys[0] < seq)
            {
                _ready.RemoveAt(0);
            }

            if (_ready.Count > 0 && _ready.Keys[0] == seq)
            {
                var message = _ready.Values[0];
                _ready.RemoveAt(0);
                return message;
            }

            return null;
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
