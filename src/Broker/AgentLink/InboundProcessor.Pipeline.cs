using System.Threading.Channels;

namespace Relay.Broker.AgentLink;

/// <summary>
/// A batch stored from its stream's memory (InboundProcessor.FromMemory.cs) is one round trip that ends with COMMIT.
/// While it runs, a batch alone that arrives is prepared from its own stream's memory and sent behind it: its statements
/// wait in PostgreSQL for the event-order lock, which passes to them the moment the first commits.
/// </summary>
/// <remarks>
/// <para>
/// Why: a prompt's reply arrives while its receipt commits (docs/benchmarks.md). It used to wait for that commit to
/// return to the broker, for its stream to take the outcome, and then be prepared and sent: about 1.5 ms of hand-offs on
/// two busy cores before its own round trip even reached PostgreSQL.
/// </para>
/// <para>
/// Safe because the second is checked, after the lock, against what the first left: its fence check wants the position
/// the first commits, and the copies the first writes are checked against the row version of the first's transaction,
/// read from an event row it inserted (PendingCommit's witness), which does not exist if it did not commit. A second of
/// the same stream therefore commits only after the first did. Either one that is rolled back goes the usual way once
/// both round trips returned, in the order they were sent; the ones that committed are handed over in the order
/// PostgreSQL committed them (their heads), so the watch feed gets the log in order.
/// </para>
/// </remarks>
internal sealed partial class InboundProcessor
{
    private long _pipelined;

    /// <summary>Attempts sent behind another one's round trip (for tests).</summary>
    internal long BatchesPipelined => Interlocked.Read(ref _pipelined);

    /// <summary>
    /// Finishes <paramref name="first"/>, with a second attempt sent behind it when a batch arrives alone meanwhile.
    /// Returns a batch it took from the queue but could not send (it starts the next group).
    /// </summary>
    private async Task<PendingBatch?> PipelineAsync(MemoryAttempt first, ChannelReader<PendingBatch> reader, CancellationToken cancellationToken)
    {
        MemoryAttempt? second = null;
        PendingBatch? next = null;
        try
        {
            // Only a batch alone: batches that arrived together go together, in a group after this one.
            if (await reader.ReadableBeforeAsync(first.RoundTrip, cancellationToken) && !first.RoundTrip.IsCompleted
                && reader.Count == 1 && TryTake(reader, out var taken))
            {
                if (taken.CancellationToken.IsCancellationRequested)
                {
                    taken.Completion.TrySetCanceled(taken.CancellationToken);
                }
                else
                {
                    next = taken;
                    if ((second = await StartFromMemoryAsync(taken, cancellationToken)) is not null)
                    {
                        next = null;
                        Interlocked.Increment(ref _pipelined);
                    }
                }
            }

            var stored = new List<MemoryAttempt>(2);
            var refused = new List<PendingBatch>(2);
            foreach (var attempt in second is null ? [first] : new[] { first, second })
            {
                try
                {
                    if (await attempt.RoundTrip)
                    {
                        stored.Add(attempt);
                        continue;
                    }

                    refused.Add(attempt.Pending);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    attempt.Pending.Completion.TrySetException(ex);
                }

                attempt.Pending.Batch.Memory?.Drop(attempt.Commit);
            }

            stored.Sort(static (a, b) => a.Head.CompareTo(b.Head));
            foreach (var attempt in stored)
            {
                Finish(attempt);
            }

            foreach (var pending in refused)
            {
                await CommitUsualAsync([pending], cancellationToken);
            }

            return next;
        }
        catch (Exception ex)
        {
            // Never leave a stream waiting on a batch this took: the loop fails only the group it knows of.
            foreach (var pending in new[] { first.Pending, second?.Pending, next })
            {
                pending?.Completion.TrySetException(ex);
            }

            throw;
        }
        finally
        {
            // Not while a round trip still reads from its connection (a failure above may leave one running).
            foreach (var attempt in second is null ? [first] : new[] { first, second })
            {
                await ((Task)attempt.RoundTrip).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await attempt.DisposeAsync();
            }
        }
    }
}
