using System.Threading.Channels;

namespace Relay.Broker.AgentLink;

internal static class ChannelReaderWaits
{
    /// <summary>
    /// Whether the reader has something to read before <paramref name="work"/> completes: true at once when it has;
    /// false once the work completed first, or the channel completed.
    /// </summary>
    /// <remarks>A wait left behind when the work wins completes with the next item, like the reader's own next wait.</remarks>
    public static async Task<bool> ReadableBeforeAsync<T>(this ChannelReader<T> reader, Task work, CancellationToken cancellationToken)
    {
        if (reader.Count > 0)
        {
            return true;
        }

        if (work.IsCompleted)
        {
            return false;
        }

        var readable = reader.WaitToReadAsync(cancellationToken).AsTask();
        return await Task.WhenAny(work, readable) == readable && await readable;
    }
}
