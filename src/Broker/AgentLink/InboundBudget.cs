using Microsoft.Extensions.Options;

namespace Relay.Broker.AgentLink;

/// <summary>
/// The replica's bound on sequenced agent messages read from their streams and not yet committed, across all streams
/// (AgentLink:InboundBudgetMessages and AgentLink:InboundBudgetBytes). A stream's reader waits for room before it reads
/// its next message; what it has not read waits as bytes in HTTP/2 flow control, and then in the agent's spool.
/// </summary>
/// <remarks>
/// <para>
/// Each stream may have ReceiveWindow messages unacknowledged, so without this bound a replica held streams × window
/// parsed messages under load, whatever it could commit: 100 agents saturating it kept 100,000 hook events (over 4 s of
/// ingest) as objects in memory. They outlived the GC's young generations, and collecting them was about 40 % of the
/// broker's CPU (docs/benchmarks.md). The group commit takes at most InboundProcessor.MaxGroupMessages at once, so a
/// budget of twice that lets the next group gather while one commits.
/// </para>
/// <para>
/// Nothing is reserved before a read: a reader on an idle stream would hold its place for as long as the agent is quiet,
/// and enough idle streams would hold the whole budget. A reader that finds room reads one message and counts it once it
/// is read, so the bound can be passed by at most one message per stream. For the same reason a release wakes every
/// waiter, not as many as it made room for: one woken onto a stream with nothing to read counts nothing, and the waiters
/// left behind would wait for a release that may never come. Woken together, each reads one message, and those that find
/// no room after it wait again; so under load each message read costs at most one wake.
/// </para>
/// <para>
/// A stream holds at most an equal share of the budget among the streams that hold some (and at least one message). A
/// woken reader goes on reading for as long as its stream's messages are already buffered, so without the share the first
/// reader to run took all the room a commit made: with 100 agents saturating the replica, ack p99 rose from 6 to 12 s
/// while the p50 fell. A stream over its share waits for its own batch to commit, which it always has in flight.
/// </para>
/// </remarks>
internal sealed class InboundBudget
{
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource> _waiters = new();
    private readonly int _maxMessages;
    private readonly long _maxBytes;
    private int _messages;
    private long _bytes;
    private int _holders;

    public InboundBudget(IOptions<AgentLinkOptions> options)
        : this(options.Value.InboundBudgetMessages, options.Value.InboundBudgetBytes)
    {
    }

    internal InboundBudget(int maxMessages, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _maxMessages = maxMessages;
        _maxBytes = maxBytes;
    }

    /// <summary>Messages read and not yet committed (or given back by their stream's end).</summary>
    public int Messages
    {
        get
        {
            lock (_lock)
            {
                return _messages;
            }
        }
    }

    /// <summary>Their bytes, as the agents sent them.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Readers waiting for room (a cancelled one counts until the next release passes it).</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>The account of one stream: what it holds of the budget. Close it when the stream ends.</summary>
    public Account Open() => new(this);

    private bool HasRoom => _messages < _maxMessages && _bytes < _maxBytes;

    private bool HasRoomFor(Account account) =>
        HasRoom && account.HeldMessages < Math.Max(1, _maxMessages / Math.Max(1, _holders));

    private void Wake()
    {
        if (!HasRoom)
        {
            return;
        }

        // Continuations run on the thread pool (RunContinuationsAsynchronously), not under this lock. A waiter whose
        // stream ended meanwhile is already complete and is passed over.
        while (_waiters.TryDequeue(out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    private static async Task WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        // A stream that ends while it waits completes its waiter as cancelled; Release then passes it over.
        await using (cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource)state!).TrySetCanceled(token), waiter))
        {
            await waiter.Task;
        }
    }

    /// <summary>One stream's share. Its counts are kept under the budget's lock; the stream's reader and processor both use it.</summary>
    internal sealed class Account(InboundBudget budget)
    {
        internal int HeldMessages { get; private set; }

        internal long HeldBytes { get; private set; }

        /// <summary>
        /// Completes when the stream may read its next message: at once when the budget has room and the stream is within
        /// its share. Cancelled by <paramref name="cancellationToken"/> (the stream ended); a wait that was woken first stands.
        /// </summary>
        public ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
        {
            TaskCompletionSource waiter;
            lock (budget._lock)
            {
                if (budget.HasRoomFor(this))
                {
                    return ValueTask.CompletedTask;
                }

                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                budget._waiters.Enqueue(waiter);
            }

            return new ValueTask(WaitAsync(waiter, cancellationToken));
        }

        /// <summary>Counts a sequenced message the stream has just read.</summary>
        public void Add(long bytes)
        {
            lock (budget._lock)
            {
                if (HeldMessages++ == 0)
                {
                    budget._holders++;
                }

                HeldBytes += bytes;
                budget._messages++;
                budget._bytes += bytes;
            }
        }

        /// <summary>Gives back messages that were committed; with room, wakes every waiter.</summary>
        public void Release(int messages, long bytes)
        {
            if (messages == 0 && bytes == 0)
            {
                return;
            }

            lock (budget._lock)
            {
                Take(messages, bytes);
                budget.Wake();
            }
        }

        /// <summary>Gives back everything the stream still holds: it ended, and its batches in flight are never acked.</summary>
        public void Close()
        {
            lock (budget._lock)
            {
                Take(HeldMessages, HeldBytes);
                budget.Wake();
            }
        }

        private void Take(int messages, long bytes)
        {
            // Never more than the stream holds: a release after Close (none is made) must not take other streams' room.
            messages = Math.Min(messages, HeldMessages);
            bytes = Math.Min(bytes, HeldBytes);
            var before = HeldMessages;
            HeldMessages -= messages;
            HeldBytes -= bytes;
            if (before > 0 && HeldMessages == 0)
            {
                budget._holders--;
            }

            budget._messages -= messages;
            budget._bytes -= bytes;
        }
    }
}
