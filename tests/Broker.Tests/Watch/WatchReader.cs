using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Watch;

/// <summary>Reads a Watch stream in tests: events and checkpoints, until a condition holds or the stream fails.</summary>
internal sealed class WatchReader(AsyncServerStreamingCall<WatchResponse> call) : IDisposable
{
    public List<Event> Events { get; } = [];

    public List<WatchCheckpoint> Checkpoints { get; } = [];

    /// <summary>The last cursor received (event or checkpoint): where a resumed watch continues.</summary>
    public string LastCursor { get; private set; } = "";

    public async Task<WatchResponse> NextAsync(CancellationToken cancellationToken)
    {
        if (!await call.ResponseStream.MoveNext(cancellationToken))
        {
            throw new InvalidOperationException("The watch ended.");
        }

        var item = call.ResponseStream.Current;
        if (item.Event is { } e)
        {
            Events.Add(e);
            LastCursor = e.Cursor;
        }
        else
        {
            Checkpoints.Add(item.Checkpoint);
            LastCursor = item.Checkpoint.Cursor;
        }

        return item;
    }

    public async Task UntilAsync(Func<WatchReader, bool> done, CancellationToken cancellationToken)
    {
        while (!done(this))
        {
            await NextAsync(cancellationToken);
        }
    }

    public void Dispose() => call.Dispose();
}
