using System.Runtime.CompilerServices;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;

namespace Relay.Broker.Watch;

/// <summary>
/// One Watch stream: replay from the database up to the head, switch to the live feed without gap or duplicate, then
/// follow it with checkpoints while nothing matches. <see cref="IsOverflowed"/> tells when the live buffer overflowed.
/// </summary>
internal sealed class WatchSession(
    WatchPlan plan,
    TimelineReader reader,
    TimelineMapper mapper,
    EventFeed feed,
    WatchOptions options,
    TimeProvider timeProvider,
    ILogger logger) : IDisposable
{
    private WatchSubscription? _subscription;

    /// <summary>The position of the last event or checkpoint handed out.</summary>
    public long Position { get; private set; }

    /// <summary>True once the live buffer overflowed: the stream ends with RESOURCE_EXHAUSTED.</summary>
    public bool IsOverflowed => _subscription?.Overflowed.IsCancellationRequested == true;

    public int Capacity => options.BufferCapacity;

    public IAsyncEnumerable<WatchResponse> ReadAllAsync(CancellationToken cancellationToken) => ReadCoreAsync(cancellationToken);

    /// <summary>Waits for one response write; false when the caller must reset the stream (see <see cref="WriteWait"/>).</summary>
    public Task<bool> WaitForWriteAsync(Task write, CancellationToken ending) =>
        WriteWait.WaitAsync(write, options.StalledWriteGrace, timeProvider, logger, _subscription?.Overflowed ?? CancellationToken.None, ending);

    public void Dispose()
    {
        if (_subscription is { } subscription)
        {
            feed.Unsubscribe(subscription);
            subscription.Dispose();
        }
    }

    private async IAsyncEnumerable<WatchResponse> ReadCoreAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (plan.Start is not { } start)
        {
            (_subscription, Position) = await SubscribeAsync(cancellationToken);
            yield return Checkpoint(caughtUp: true);
        }
        else
        {
            Position = start;
            yield return Checkpoint(caughtUp: false);

            // Replay from the database while the head moves on; subscribe only when close, so the live buffer is not
            // filling up during a long replay.
            var head = await reader.HeadAsync(cancellationToken);
            await foreach (var e in ReplayAsync(head, cancellationToken))
            {
                yield return e;
            }

            (_subscription, var feedPosition) = await SubscribeAsync(cancellationToken);
            await foreach (var e in ReplayAsync(feedPosition, cancellationToken))
            {
                yield return e;
            }

            yield return Checkpoint(caughtUp: true);
        }

        await foreach (var item in LiveAsync(_subscription!, cancellationToken))
        {
            yield return item;
        }
    }

    private Task<(WatchSubscription Subscription, long Position)> SubscribeAsync(CancellationToken cancellationToken) =>
        feed.SubscribeAsync(plan.Live, cancellationToken);

    /// <summary>Events from the database after <see cref="Position"/> up to <paramref name="upTo"/>.</summary>
    private async IAsyncEnumerable<WatchResponse> ReplayAsync(long upTo, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (Position < upTo)
        {
            var rows = await reader.ReadAsync(plan.Replay, Position, upTo, options.BatchSize, newestFirst: false, cancellationToken);
            var events = await mapper.MapAsync(rows, plan.OmitRawJson, cancellationToken);
            foreach (var e in events)
            {
                Position = EventCursor.Parse(e.Cursor, "cursor");
                yield return new WatchResponse { Event = e };
            }

            // A short page is the end of the range: everything up to upTo that matches has been sent.
            Position = rows.Count < options.BatchSize ? upTo : rows[^1].Id;
        }
    }

    private async IAsyncEnumerable<WatchResponse> LiveAsync(WatchSubscription subscription, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            if (subscription.Overflowed.IsCancellationRequested)
            {
                throw WatchStream.Overflow(Position, options.BufferCapacity);
            }

            // Read how far the feed has looked *before* draining: if the buffer is then empty, nothing matching up to
            // that position is missing, so it is a safe checkpoint.
            var looked = subscription.Position;
            if (subscription.Reader.TryRead(out var item))
            {
                if (item.Position > Position)
                {
                    Position = item.Position;
                    yield return new WatchResponse { Event = plan.OmitRawJson ? TimelineMapper.OmitRawJson(item.Event) : item.Event };
                }

                continue;
            }

            Position = Math.Max(Position, looked);
            switch (await WaitAsync(subscription, cancellationToken))
            {
                case Wake.Quiet:
                    yield return Checkpoint(caughtUp: true);
                    break;
                case Wake.Closed:
                    yield break; // the feed is shutting down
            }
        }
    }

    private async Task<Wake> WaitAsync(WatchSubscription subscription, CancellationToken cancellationToken)
    {
        using var quiet = new CancellationTokenSource(options.CheckpointInterval, timeProvider);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, subscription.Overflowed, quiet.Token);
        try
        {
            return await subscription.Reader.WaitToReadAsync(wait.Token) || subscription.Overflowed.IsCancellationRequested ? Wake.Data : Wake.Closed;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return subscription.Overflowed.IsCancellationRequested ? Wake.Data : Wake.Quiet;
        }
    }

    private enum Wake
    {
        Data,
        Quiet,
        Closed,
    }

    private WatchResponse Checkpoint(bool caughtUp) => WatchStream.Checkpoint(Position, caughtUp, timeProvider);
}
