using Microsoft.Extensions.Options;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.Watch;

/// <summary>
/// Tails the event log once for every watcher of this replica: reads each new batch of rows once, maps it once, and
/// hands every watcher the events that match its filter. Watchers never query the log while live, so N watchers cost
/// one query per batch, not N.
/// </summary>
/// <remarks>
/// Handoff without gap or duplicate: <see cref="Subscribe"/> returns the feed's position P atomically with the
/// registration; every batch dispatched later covers rows after P. The watcher reads rows up to P from the database
/// itself and drops any live event at or below what it already sent.
/// <para>
/// Rows this replica's writers just committed come handed over (<see cref="CommittedEvents"/>) with the head they
/// follow: an entry whose head is the feed's position is dispatched as it is, without a query. The feed reads the
/// database instead when an entry does not follow on (a gap: another writer, another replica, a dropped entry), when
/// <see cref="BrokerSignals.Events"/> was published by anyone but a handover (a writer that does not hand over), on
/// the poll, and for a new watcher; so every row is still read or handed over, once, in id order.
/// </para>
/// </remarks>
internal sealed class EventFeed(
    TimelineReader reader,
    TimelineMapper mapper,
    BrokerSignals signals,
    CommittedEvents committed,
    IOptions<WatchOptions> options,
    TimeProvider timeProvider,
    ILogger<EventFeed> logger) : BackgroundService
{
    private readonly Lock _lock = new();
    private readonly List<WatchSubscription> _subscriptions = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SortedList<long, CommittedEvents.Entry> _handed = [];
    private long _position;
    private long _unhandedSignals;

    /// <summary>Registers a watcher; returns the position after which the feed will deliver to it.</summary>
    public async Task<(WatchSubscription Subscription, long Position)> SubscribeAsync(WatchFilter filter, CancellationToken cancellationToken)
    {
        await _started.Task.WaitAsync(cancellationToken);
        return Subscribe(filter);
    }

    public void Unsubscribe(WatchSubscription subscription)
    {
        lock (_lock)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private (WatchSubscription, long) Subscribe(WatchFilter filter)
    {
        lock (_lock)
        {
            var subscription = new WatchSubscription(filter, options.Value.BufferCapacity, _position);
            _subscriptions.Add(subscription);
            _subscribed.TrySetResult();
            return (subscription, _position);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = options.Value.PollInterval;
        var mustRead = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Read both before looking, so a change or a new watcher after the look still ends the wait.
            var version = signals.Version(BrokerSignals.Events);
            var subscribed = NextSubscribed();
            var more = false;
            var failed = false;
            try
            {
                more = await StepAsync(mustRead, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Never let the feed die (a BackgroundService failure stops the host): watchers stall, then resume.
                WatchLog.FeedFailed(logger, ex, retry);
                failed = true;
            }

            // A full batch means more is waiting; after a failure, the poll and a new watcher, the log is read whatever
            // was handed over.
            mustRead = more || await WaitAsync(version, subscribed, stoppingToken) || failed;
        }
    }

    /// <summary>
    /// One look: the rows handed over when they follow on and nothing else was signalled, otherwise one read of the log;
    /// true when a full batch came back (more is waiting).
    /// </summary>
    private async Task<bool> StepAsync(bool mustRead, CancellationToken cancellationToken)
    {
        // Before anything is read: a signal published after this is seen by the next step (see UnhandedSignals).
        var unhanded = UnhandedSignals();
        mustRead |= unhanded != _unhandedSignals;
        _unhandedSignals = unhanded;
        TakeHandedOver();
        if (!_started.Task.IsCompleted)
        {
            _position = await reader.HeadAsync(cancellationToken);
            DropHandedUpTo(_position);
            WatchLog.FeedStarted(logger, _position);
            _started.TrySetResult();
            return false;
        }

        bool anyone;
        lock (_lock)
        {
            anyone = _subscriptions.Count > 0;
        }

        if (!anyone)
        {
            // Nobody listens: follow the head instead of reading rows nobody needs. A watcher that subscribed meanwhile
            // keeps the old position (checked under the lock) and is served from there. The last row handed over is a
            // committed head too (everything below it committed before it), so it spares the query.
            if (!mustRead && _handed.Count == 0)
            {
                return false; // only handovers were signalled, and they are past
            }

            var head = mustRead ? await reader.HeadAsync(cancellationToken) : _handed.Values.Max(e => e.Last);
            lock (_lock)
            {
                if (_subscriptions.Count == 0)
                {
                    _position = Math.Max(_position, head);
                }
            }

            DropHandedUpTo(_position);
            return false;
        }

        if (!mustRead)
        {
            // Rows committed right after the position, by a writer of this replica that held the event-order lock from
            // reading that head to its COMMIT: exactly the rows a read would return, so they are not read back.
            while (_handed.Count > 0 && _handed.Keys[0] == _position)
            {
                var entry = _handed.Values[0];
                _handed.RemoveAt(0);
                Dispatch(await mapper.MapAsync(entry.Rows, omitRawJson: false, cancellationToken), entry.Last);
            }

            DropHandedUpTo(_position);
            if (_handed.Count == 0)
            {
                return false; // only handovers were signalled, and every row they committed is dispatched
            }

            // A gap (rows of a writer that handed nothing over, or a dropped entry, before the next entry): read on.
        }

        var batch = options.Value.BatchSize;
        var rows = await reader.ReadAllAfterAsync(_position, batch, cancellationToken);
        if (rows.Count == 0)
        {
            return false;
        }

        var events = await mapper.MapAsync(rows, omitRawJson: false, cancellationToken);
        Dispatch(events, rows[^1].Id);
        DropHandedUpTo(_position);
        return rows.Count == batch;
    }

    /// <summary>
    /// How many times <see cref="BrokerSignals.Events"/> was published other than by a handover. Read the version first:
    /// a handover counts itself before it publishes, so in between this is too low, never too high for long, and the
    /// publish that follows wakes the feed to look again.
    /// </summary>
    private long UnhandedSignals()
    {
        var version = signals.Version(BrokerSignals.Events);
        return version - committed.HandedOverSignals;
    }

    /// <summary>Moves what writers handed over into <see cref="_handed"/>, by the head each follows.</summary>
    private void TakeHandedOver()
    {
        while (committed.TryTake(out var entry))
        {
            if (entry.Last > _position)
            {
                _handed.TryAdd(entry.Head, entry);
            }
        }
    }

    private void DropHandedUpTo(long position)
    {
        for (var i = _handed.Count - 1; i >= 0; i--)
        {
            if (_handed.Values[i].Last <= position)
            {
                _handed.RemoveAt(i);
            }
        }
    }

    private void Dispatch(List<Relay.Protocol.V1.Event> events, long upTo)
    {
        var items = events.Select(e => new FeedItem(EventCursor.Parse(e.Cursor, "cursor"), e)).ToList();
        lock (_lock)
        {
            for (var i = _subscriptions.Count - 1; i >= 0; i--)
            {
                var subscription = _subscriptions[i];
                if (items.Any(item => subscription.Filter.Matches(item.Event) && !subscription.Offer(item)))
                {
                    // Overflowed: it is told, and it leaves; its watcher resumes from its cursor with a new call.
                    _subscriptions.RemoveAt(i);
                    WatchLog.WatcherOverflowed(logger, subscription.Capacity);
                    continue;
                }

                subscription.Advance(upTo);
            }

            _position = upTo;
        }
    }

    private Task NextSubscribed()
    {
        lock (_lock)
        {
            if (_subscribed.Task.IsCompleted)
            {
                _subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return _subscribed.Task;
        }
    }

    /// <summary>Waits for a signal, a new watcher or the poll; true when the log must be read (not a signal).</summary>
    private async Task<bool> WaitAsync(long version, Task subscribed, CancellationToken stoppingToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var poll = Task.Delay(options.Value.PollInterval, timeProvider, wait.Token);
        var signal = signals.WaitAsync(BrokerSignals.Events, version, wait.Token);
        var woken = await Task.WhenAny(poll, signal, subscribed);
        await wait.CancelAsync();
        return woken != signal;
    }
}
