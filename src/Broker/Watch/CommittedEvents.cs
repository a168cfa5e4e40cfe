using System.Threading.Channels;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.Watch;

/// <summary>
/// Rows a writer of this replica has just committed to the event log, handed to the <see cref="EventFeed"/> so it can
/// dispatch them without reading them back.
/// </summary>
/// <remarks>
/// Every writer of the log holds the event-order lock from before its first insert to its COMMIT, and reads the log's
/// head H (<see cref="TimelineWriter.HeadCommand"/>) after taking it, before inserting. Nobody else can commit events
/// in between, so once its COMMIT returned, the committed rows after H are exactly the rows it hands over (ids have
/// gaps where inserts rolled back, which is why H, not the first id, says where they start). The feed uses an entry
/// only when H is its own position; anything else (an entry dropped here, rows of a writer that does not hand over, of
/// another replica) is a gap it reads from the database, as it always did. Hand over only after a successful COMMIT,
/// and only rows of the committed transaction (never those of a batch rolled back to its savepoint).
/// <para>
/// <see cref="Committed"/> publishes <see cref="BrokerSignals.Events"/> for the writer and counts the publishes that
/// came with an entry: the feed reads the log when the signal was published more often than that (by a writer that
/// handed nothing over), so rows such a writer committed after the last entry are never left waiting for the poll.
/// </para>
/// </remarks>
internal sealed class CommittedEvents(BrokerSignals signals)
{
    /// <summary>Rows waiting for the feed at most; beyond, entries are dropped and the feed reads them back.</summary>
    internal const int MaxPendingRows = 16_384;

    private readonly Channel<Entry> _entries = Channel.CreateBounded<Entry>(new BoundedChannelOptions(1024)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite, // never used: Committed checks the row budget first
    });

    private int _pendingRows;
    private long _handedOverSignals;

    /// <summary>How many publishes of <see cref="BrokerSignals.Events"/> came with an entry (counted before publishing).</summary>
    internal long HandedOverSignals => Interlocked.Read(ref _handedOverSignals);

    /// <summary>The rows one commit added after <paramref name="Head"/>, in id order (never empty).</summary>
    internal sealed record Entry(long Head, IReadOnlyList<TimelineRow> Rows)
    {
        public long Last => Rows[^1].Id;
    }

    /// <summary>
    /// Hands over what a transaction committed, once its COMMIT returned: every row it inserted, in id order, and the
    /// head it read after taking the event-order lock. Publishes <see cref="BrokerSignals.Events"/>: the writer does not
    /// publish it again. Without rows it does nothing (and the writer publishes as usual, if it must). Never blocks; when the feed is behind, the entry is dropped and the feed reads the rows back.
    /// </summary>
    public void Committed(long head, IReadOnlyList<TimelineRow> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        // Entry first, then the count, then the signal: a feed that sees the count finds the entry.
        if (Interlocked.Add(ref _pendingRows, rows.Count) <= MaxPendingRows && _entries.Writer.TryWrite(new Entry(head, rows)))
        {
            Interlocked.Increment(ref _handedOverSignals);
        }
        else
        {
            Interlocked.Add(ref _pendingRows, -rows.Count);
        }

        signals.Publish(BrokerSignals.Events);
    }

    /// <summary>The next entry handed over, if any (feed only).</summary>
    internal bool TryTake(out Entry entry)
    {
        if (_entries.Reader.TryRead(out entry!))
        {
            Interlocked.Add(ref _pendingRows, -entry.Rows.Count);
            return true;
        }

        return false;
    }
}
