using System.Threading.Channels;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Signals;
using Relay.Broker.Watch.Timeline;

namespace Relay.Broker.AgentLink;

/// <summary>
/// Group commit: the batches of every stream of this replica that arrive while a transaction runs are stored together
/// in the next one, each inside its own savepoint.
/// </summary>
/// <remarks>
/// Batches with messages take the event-order lock and hold it until their commit (see EventIngestWriter), so they run
/// one at a time across the replica, each paying its own round trips and WAL flush. With ten agents sending, an event
/// waited for nine other transactions before its own: about 40 ms at 10,000 events/s on the benchmark machine. Stored
/// together they pay one lock, one flush and one commit. Nothing else changes: a batch is still all-or-nothing (its
/// savepoint), fenced by its machine's agent_link_state row, deduplicated by seq and event id, and acked only after the
/// commit. A batch that fails (a newer stream, a revoked machine, a database rule) is rolled back to its savepoint and
/// reported to its stream alone. The group locks its batches' agent_link_state rows in one statement, in machine id
/// order, the order in which PresenceSweeper locks them, so the two cannot deadlock. Statements whose results are not
/// needed in between share a round trip (see CommitGroupAsync): a group of n batches costs about n + 1 round trips, the
/// last of which ends with COMMIT. A group of hook events alone costs two (InboundProcessor.OneRoundTrip.cs), and comes
/// here, batch by batch, only when that fails. A batch alone whose stream remembers everything it names costs one
/// (InboundProcessor.FromMemory.cs), and comes here when that cannot be done or finds the memory out of date.
/// </remarks>
internal sealed partial class InboundProcessor : IAsyncDisposable
{
    /// <summary>Most batches stored in one transaction.</summary>
    internal const int MaxGroupBatches = 64;

    /// <summary>Most messages stored in one transaction (a group stops growing when it reaches this).</summary>
    internal const int MaxGroupMessages = 4096;

    private const string Savepoint = "batch";

    // Each stream has at most one batch waiting, so this is never full in practice; it bounds a runaway caller.
    private readonly Channel<PendingBatch> _pending = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(8192)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly CancellationTokenSource _disposing = new();
    private readonly Lock _startLock = new();
    private Task? _loop;

    /// <summary>Batches waiting for the next group (for tests that line a group up).</summary>
    internal int PendingBatches => _pending.Reader.Count;

    private async Task<BatchOutcome> SubmitAsync(InboundBatch batch, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var pending = new PendingBatch(batch, cancellationToken);
        await _pending.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            if (_loop is null)
            {
                // The loop serves every stream: it must not run in (or keep alive) the first caller's trace or context.
                using (ExecutionContext.SuppressFlow())
                {
                    Volatile.Write(ref _loop, Task.Run(CommitLoopAsync));
                }
            }
        }
    }

    private async Task CommitLoopAsync()
    {
        var reader = _pending.Reader;
        var group = new List<PendingBatch>(MaxGroupBatches);
        PendingBatch? carried = null;
        try
        {
            while (carried is not null || await reader.WaitToReadAsync(_disposing.Token))
            {
                group.Clear();
                var messages = 0;
                while (group.Count < MaxGroupBatches && messages < MaxGroupMessages && (Take(ref carried, out var next) || TryTake(reader, out next)))
                {
                    if (next.CancellationToken.IsCancellationRequested)
                    {
                        next.Completion.TrySetCanceled(next.CancellationToken); // its stream is gone; nothing was stored
                        continue;
                    }

                    group.Add(next);
                    messages += next.Batch.Items.Count;
                }

                if (group.Count > 0)
                {
                    // Two batches of one stream (the second submitted while the first committed) keep their order: After grows.
                    group.Sort(static (a, b) => CompareAsPostgres(a.Batch.Machine.Id, b.Batch.Machine.Id) is var byMachine and not 0
                        ? byMachine
                        : a.Batch.After.CompareTo(b.Batch.After));
                    try
                    {
                        if (group.Count == 1 && await StartFromMemoryAsync(group[0], _disposing.Token) is { } first)
                        {
                            carried = await PipelineAsync(first, reader, _disposing.Token);
                            continue;
                        }

                        await CommitUsualAsync(group, _disposing.Token);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !_disposing.IsCancellationRequested)
                    {
                        // Never leave a stream waiting on a loop that died: whatever was not completed fails (and is
                        // resent by its agent), and the loop goes on with the next group.
                        foreach (var pending in group)
                        {
                            pending.Completion.TrySetException(ex);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
            // Disposed with the service provider, after the server stopped: no stream is left to wait.
        }
        finally
        {
            carried?.Completion.TrySetCanceled();
            while (reader.TryRead(out var left))
            {
                left.Completion.TrySetCanceled();
            }
        }
    }

    /// <summary>Takes the next batch from the queue: its stream can no longer add to it.</summary>
    private static bool TryTake(ChannelReader<PendingBatch> reader, out PendingBatch next)
    {
        if (!reader.TryRead(out next!))
        {
            return false;
        }

        next.Batch.Seal?.Close();
        return true;
    }

    private static bool Take(ref PendingBatch? carried, out PendingBatch next)
    {
        next = carried!;
        carried = null;
        return next is not null;
    }

    /// <summary>A group stored without its streams' memory: hook events alone in one round trip when they can, else batch by batch.</summary>
    private async Task CommitUsualAsync(List<PendingBatch> group, CancellationToken cancellationToken)
    {
        if (group.Count > 1)
        {
            // Only a batch alone in its transaction knows the row versions it leaves (no savepoint).
            foreach (var pending in group)
            {
                pending.Batch.Memory?.Forget();
            }
        }

        if (!CanShareOneRoundTrip(group) || !await TryCommitInOneRoundTripAsync(group, cancellationToken))
        {
            // Not hook events alone, or rolled back: batch by batch, each in its savepoint (those the attempt refused
            // at their fence are already completed).
            group.RemoveAll(static p => p.Completion.Task.IsCompleted);
            if (group.Count > 0)
            {
                await CommitGroupAsync(group, cancellationToken);
            }
        }
    }

    /// <summary>Stores the group in one transaction; completes each batch with its outcome or its own failure.</summary>
    /// <remarks>
    /// Round trips: one for the event-order lock, the log's head, every batch's fence, what the batches will look up by
    /// key (GroupPreload: sessions, prompts, stored replies) and the first savepoint; then per batch one for its changes
    /// (ChangeCommands), its event rows, its position, the RELEASE of its savepoint and the next batch's SAVEPOINT (the
    /// last batch's COMMIT instead), plus any lookup the preload does not cover and a SaveChanges of its own when its
    /// changes cannot be rendered. A batch that fails rolls back to its savepoint, which stays in place for the next batch
    /// (ROLLBACK TO SAVEPOINT keeps it); one whose fence fails did nothing to roll back. When the last batch failed or was
    /// refused, COMMIT is a round trip of its own.
    /// </remarks>
    private async Task CommitGroupAsync(List<PendingBatch> group, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var stored = new (BatchOutcome Outcome, Sessions.IngestContext Context, List<TimelineRow> Rows)?[group.Count];
        var head = 0L;
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            // Each batch has its own savepoint; EF's own around every SaveChanges would be two more round trips each.
            db.Database.AutoSavepointsEnabled = false;
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var tx = (NpgsqlTransaction)transaction.GetDbTransaction();
            var alone = group.Count == 1;
            IReadOnlyList<string> nextSavepoint = alone ? [] : [$"SAVEPOINT {Savepoint}"];
            IReadOnlyList<string> releaseAndNext = alone ? [] : [$"RELEASE SAVEPOINT {Savepoint}", $"SAVEPOINT {Savepoint}"];
            // The last batch's round trip ends with COMMIT, so the lock is released as soon as PostgreSQL has run it,
            // without waiting for this process to read the results and send COMMIT (see TimelineWriter.CommitCommand).
            // A failure in that round trip stops it before COMMIT: alone, the group fails as a whole; otherwise the
            // batch is rolled back to its savepoint as before and the rest of the group is committed below.
            IReadOnlyList<string> commit = [TimelineWriter.Commit];
            var committed = false;
            var machineIds = group.Select(p => p.Batch.Machine.Id).Distinct().ToArray();
            // What the batches will look up by key, read in the same round trip as the lock and the fences.
            var preload = GroupPreload.For(group.Select(p => p.Batch));
            // The log's head comes with the lock, before any batch inserts: the rows committed after it will be exactly the
            // rows of the batches that were not rolled back (handed to the watch feed after the commit).
            // Alone, the batch commits without a savepoint: what it writes has the transaction's id as its row version,
            // and its stream may store the next batch from memory (InboundProcessor.FromMemory.cs).
            var memory = alone ? group[0].Batch.Memory : null;
            (var fences, head, var xid) = await LockFencesAsync(db, eventOrderLock: true, machineIds, preload, nextSavepoint, cancellationToken, readXid: memory is not null);
            for (var i = 0; i < group.Count; i++)
            {
                var batch = group[i].Batch;
                long position;
                try
                {
                    position = Admit(batch, fences);
                }
                catch (Exception ex) when (!alone)
                {
                    group[i].Completion.TrySetException(ex); // refused before it did anything: nothing to roll back
                    continue;
                }

                try
                {
                    var last = i == group.Count - 1;
                    var done = await StoreAsync(db, batch, position, preload, last ? commit : releaseAndNext, cancellationToken, memory, xid);
                    stored[i] = done;
                    committed = last;
                    // A later batch of the same machine (a newer stream's, which this fence would refuse) sees this
                    // batch's position, as a fence read after it would.
                    var fence = fences[batch.Machine.Id];
                    fences[batch.Machine.Id] = fence with { LastInboundSeq = Math.Max(fence.LastInboundSeq, done.Outcome.CommittedSeq) };
                }
                catch (Exception ex) when (!alone && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    // Its RELEASE had not run: a failing statement stops the round trip it is in. The group goes on on
                    // this connection: it must forget its prepared statements now, not when it is closed.
                    await tx.RollbackAsync(Savepoint, cancellationToken);
                    repair.RepairIfFailed(tx.Connection!);
                    group[i].Completion.TrySetException(ex);
                }
                finally
                {
                    // Entities of one batch must not be saved, or looked up stale, by the next.
                    preload.Forget(db);
                    db.ChangeTracker.Clear();
                }
            }

            if (!committed)
            {
                await transaction.CommitAsync(cancellationToken);
            }
        }
        catch (Exception ex)
        {
            // Nothing of the group was committed: every batch not already failed fails with the cause.
            foreach (var pending in group)
            {
                pending.Completion.TrySetException(ex);
            }

            return;
        }

        Completed(group, stored, head, time.GetElapsedTime(started));
    }

    /// <summary>
    /// After the group's commit: the watch feed gets the rows of the batches that were stored, and with them the Events
    /// signal, which the batches' streams then need not publish; each stored batch completes with its outcome.
    /// </summary>
    private void Completed(List<PendingBatch> group, (BatchOutcome Outcome, Sessions.IngestContext Context, List<TimelineRow> Rows)?[] stored, long head, TimeSpan elapsed)
    {
        var rows = new List<TimelineRow>();
        foreach (var done in stored)
        {
            if (done is not null)
            {
                rows.AddRange(done.Value.Rows);
            }
        }

        rows.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        committedEvents.Committed(head, rows);
        for (var i = 0; i < group.Count; i++)
        {
            if (stored[i] is { } done)
            {
                var outcome = rows.Count > 0 && done.Outcome.Topics.Contains(BrokerSignals.Events)
                    ? done.Outcome with { Topics = done.Outcome.Topics.Where(static t => t != BrokerSignals.Events).ToList() }
                    : done.Outcome;
                group[i].Completion.TrySetResult(outcome);
            }
        }

        for (var i = 0; i < group.Count; i++)
        {
            if (stored[i] is { } done)
            {
                telemetry.BatchStored(group[i].Batch.Items, elapsed, done.Context.Deliveries);
            }
        }
    }

    /// <summary>
    /// PostgreSQL's uuid order (the 16 bytes in RFC 4122 order). Guid.CompareTo orders by its little-endian fields, which
    /// is not the order in which the sweeper's <c>ORDER BY machine_id FOR UPDATE</c> locks rows.
    /// </summary>
    internal static int CompareAsPostgres(Guid a, Guid b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, bigEndian: true, out _);
        b.TryWriteBytes(y, bigEndian: true, out _);
        return x.SequenceCompareTo(y);
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _disposing.CancelAsync();
        if (Volatile.Read(ref _loop) is { } loop)
        {
            await loop;
        }

        _disposing.Dispose();
    }

    internal sealed record PendingBatch(InboundBatch Batch, CancellationToken CancellationToken)
    {
        public TaskCompletionSource<BatchOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
