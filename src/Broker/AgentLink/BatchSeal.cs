namespace Relay.Broker.AgentLink;

/// <summary>
/// Keeps a submitted batch open to its stream until the commit loop takes it: messages the stream reads meanwhile join
/// it instead of starting a batch of their own, as they joined the next batch when a stream submitted only after its
/// previous commit returned. Once closed, the batch's items never change.
/// </summary>
internal sealed class BatchSeal(List<InboundItem> items)
{
    private readonly Lock _lock = new();
    private long _bytes = BytesOf(items);
    private bool _closed;

    /// <summary>
    /// Adds <paramref name="more"/> (later seqs) while the batch is open and stays within <paramref name="maxItems"/>
    /// messages and <paramref name="maxBytes"/> bytes (InboundItem.Size).
    /// </summary>
    public bool TryAppend(IReadOnlyList<InboundItem> more, int maxItems, long maxBytes)
    {
        var moreBytes = BytesOf(more);
        lock (_lock)
        {
            if (_closed || items.Count + more.Count > maxItems || _bytes + moreBytes > maxBytes)
            {
                return false;
            }

            items.AddRange(more);
            _bytes += moreBytes;
            return true;
        }
    }

    private static long BytesOf(IReadOnlyList<InboundItem> items)
    {
        var bytes = 0L;
        foreach (var item in items)
        {
            bytes += item.Size;
        }

        return bytes;
    }

    /// <summary>The commit loop took the batch: what it holds now is what is stored.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
        }
    }
}
