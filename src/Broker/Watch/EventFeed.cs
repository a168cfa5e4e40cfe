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
/// </remarks>
internal sealed class EventFeed(
    TimelineReader reader,
    TimelineMapper mapper,
    BrokerSignals signals,
    IOptions<WatchOptions> options,
    TimeProvider timeProvider,
    ILogger<EventFeed> logger) : BackgroundService
{
    private readonly Lock _lock = new();
    private readonly List<WatchSubscription> _subscriptions = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _position;

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
        while (!stoppingToken.IsCancellationRequested)
        {
            // Read both before looking, so a change or a new watcher after the look still ends the wait.
            var version = signals.Version(BrokerSignals.Events);
            var subscribed = NextSubscribed();
            var more = false;
            try
            {
                more = await StepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Never let the feed die (a BackgroundService failure stops the host): watchers stall, then resume.
                WatchLog.FeedFailed(logger, ex, retry);
            }

            if (!more)
            {
                await WaitAsync(version, subscribed, stoppingToken);
            }
        }
    }

    /// <summary>One read of the log; true when a full batch came back (more is waiting).</summary>
    private async Task<bool> StepAsync(CancellationToken cancellationToken)
    {
        if (!_started.Task.IsCompleted)
        {
            _position = await reader.HeadAsync(cancellationToken);
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
            // keeps the old position (checked under the lock) and is served from there.
            var head = await reader.HeadAsync(cancellationToken);
            lock (_lock)
            {
                if (_subscriptions.Count == 0)
                {
                    _position = Math.Max(_position, head);
                }
            }

            return false;
        }

        var batch = options.Value.BatchSize;
        var rows = await reader.ReadAllAfterAsync(_position, batch, cancellationToken);
        if (rows.Count == 0)
        {
            return false;
        }

        var events = await mapper.MapAsync(rows, omitRawJson: false, cancellationToken);
        Dispatch(events, rows[^1].Id);
        return rows.Count == batch;
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

    private async Task WaitAsync(long version, Task subscribed, CancellationToken stoppingToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var poll = Task.Delay(options.Value.PollInterval, timeProvider, wait.Token);
        var signal = signals.WaitAsync(BrokerSignals.Events, version, wait.Token);
        await Task.WhenAny(poll, signal, subscribed);
        await wait.CancelAsync();
    }
}
