using System.Threading.Channels;
using Relay.Protocol.V1;

namespace Relay.Broker.Watch;

/// <summary>A live event with its position in the log.</summary>
internal readonly record struct FeedItem(long Position, Event Event);

/// <summary>
/// One watcher's place in the <see cref="EventFeed"/>: a bounded buffer of matching live events, and how far the feed
/// has looked on its behalf. The feed never waits for a watcher: when the buffer is full the subscription overflows.
/// </summary>
internal sealed class WatchSubscription : IDisposable
{
    private readonly Channel<FeedItem> _buffer;
    private readonly CancellationTokenSource _overflowed = new();
    private long _position;

    public WatchSubscription(WatchFilter filter, int capacity, long position)
    {
        Filter = filter;
        Capacity = capacity;
        _position = position;
        _buffer = Channel.CreateBounded<FeedItem>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // never used to wait: the feed only calls TryWrite
        });
    }

    public WatchFilter Filter { get; }

    public int Capacity { get; }

    public ChannelReader<FeedItem> Reader => _buffer.Reader;

    /// <summary>Fires when the buffer overflowed: the watcher must end with RESOURCE_EXHAUSTED.</summary>
    public CancellationToken Overflowed => _overflowed.Token;

    /// <summary>
    /// Every matching event up to here has been put in the buffer. The feed writes events first and this second, so a
    /// reader that reads this and then finds the buffer empty has seen everything up to it.
    /// </summary>
    public long Position => Volatile.Read(ref _position);

    /// <summary>Buffers an event (feed only); false when the buffer is full, after which the subscription is overflowed.</summary>
    public bool Offer(FeedItem item)
    {
        if (_buffer.Writer.TryWrite(item))
        {
            return true;
        }

        _buffer.Writer.TryComplete();
        // The feed calls this under its lock: the request is immediate, the callbacks (ending a stuck write) run
        // elsewhere.
        _ = _overflowed.CancelAsync();
        return false;
    }

    public void Advance(long position) => Volatile.Write(ref _position, position);

    public void Dispose()
    {
        _buffer.Writer.TryComplete();
        _overflowed.Dispose();
    }
}
