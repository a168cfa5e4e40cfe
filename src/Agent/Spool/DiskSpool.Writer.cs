using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Relay.Protocol.V1;

namespace Relay.Agent.Spool;

internal sealed partial class DiskSpool
{
    /// <summary>The single writer: everything queued when it wakes becomes one write and one fsync.</summary>
    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<AppendRequest>(MaxBatch);
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            Commit(batch);
        }
    }

    private void Commit(List<AppendRequest> batch)
    {
        var plan = Plan(batch);
        if (plan.Records.Count == 0)
        {
            return;
        }

        try
        {
            Write(plan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            lock (_lock)
            {
                Unpick(plan.Victims);
                ReleaseSegments(plan);
            }

            SpoolLog.WriteFailed(_logger, ex, plan.Records.Count);
            var failure = new IOException("The spool could not write to disk (" + ex.Message + "); the item was not spooled.", ex);
            foreach (var record in plan.Records)
            {
                record.Request?.Fail(failure);
            }

            return;
        }

        TaskCompletionSource appended;
        lock (_lock)
        {
            foreach (var victim in plan.Victims)
            {
                victim.Picked = false;
                if (!victim.Acked && !victim.Dropped)
                {
                    victim.Dropped = true;
                    Forget(victim);
                }
            }

            foreach (var record in plan.Records)
            {
                Add(record.Entry!);
            }

            ReleaseSegments(plan);
            _lastSeq = plan.Records[^1].Seq;
            Volatile.Write(ref _nextSeq, (long)_lastSeq + 1);
            CompactIndex();

            // Segments that died while this batch kept them busy are left to the next Ack, which makes the position
            // durable before it deletes them; the records just written will be acknowledged.
            appended = _appended;
            _appended = new TaskCompletionSource();
        }

        // The producers first, then the link's sender. A producer alone in its batch (a hook, at a person's pace) goes on
        // here, on the writer's thread: the hook's answer is written without waking another thread for it. Several are
        // handed to the thread pool, so that none waits for the others' continuations. Then the sender, also here: it
        // reads what was just written and queues it for the broker, after the answer went out.
        var single = plan.Records.Count(r => r.Request is not null) == 1;
        foreach (var record in plan.Records)
        {
            record.Request?.Succeed(record.Seq, inline: single);
        }

        appended.TrySetResult();
    }

    /// <summary>
    /// Gives each request its seq and its bytes, deciding the drops when the spool is full. Nothing is changed in the
    /// index yet: that happens only once the batch is durable.
    /// </summary>
    private BatchPlan Plan(List<AppendRequest> batch)
    {
        var plan = new BatchPlan();
        var nextSeq = NextSeq;
        long pendingBytes = 0;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var request in batch)
        {
            AgentMessage message;
            try
            {
                message = request.Compose();
            }
            catch (Exception ex)
            {
                request.Fail(ex);
                continue;
            }

            message.Seq = nextSeq;
            var size = SpoolSegment.RecordHeaderBytes + SpoolSegment.BodyPrefixBytes + message.CalculateSize();
            if (size - SpoolSegment.RecordHeaderBytes > _options.MaxItemBytes + SpoolSegment.BodyPrefixBytes)
            {
                request.Fail(new SpoolItemTooLargeException(
                    $"A {message.BodyCase} of {size} bytes is larger than the spool's item limit (Agent:Spool:MaxItemBytes = {_options.MaxItemBytes}); cut it before spooling."));
                continue;
            }

            var droppable = IsDroppable(message.BodyCase);
            lock (_lock)
            {
                var over = _liveBytes + pendingBytes - plan.FreedBytes + size - _options.MaxBytes;
                if (over > 0)
                {
                    var picked = PickVictims(over + DroppedRecordReserve);
                    if (droppable && picked.Bytes < over)
                    {
                        Unpick(picked.Victims);
                        SpoolLog.Refused(_logger, _liveBytes + pendingBytes - plan.FreedBytes, _options.MaxBytes);
                        request.Fail(new SpoolFullException(
                            $"The spool is full ({_liveBytes + pendingBytes - plan.FreedBytes} of {_options.MaxBytes} bytes) of items that are never dropped (replies, receipts, approvals), so this hook event was not spooled. The broker has not acknowledged them: is it reachable? Raise Agent:Spool:MaxBytes to keep more."));
                        continue;
                    }

                    if (picked.Victims.Count > 0)
                    {
                        plan.Victims.AddRange(picked.Victims);
                        plan.FreedBytes += picked.Bytes;
                        var dropped = DroppedRecord(picked.Victims, nextSeq);
                        SpoolLog.Dropped(_logger, _liveBytes + pendingBytes, _options.MaxBytes, picked.Victims.Count, picked.Victims[0].Seq, picked.Victims[^1].Seq, nextSeq);
                        pendingBytes += plan.Add(null, dropped, now);
                        nextSeq++;
                        message.Seq = nextSeq;
                    }

                    if (!droppable && _liveBytes + pendingBytes - plan.FreedBytes + size > _options.MaxBytes)
                    {
                        SpoolLog.OverBound(_logger, _liveBytes + pendingBytes - plan.FreedBytes + size, _options.MaxBytes, message.BodyCase.ToString());
                    }
                }
            }

            pendingBytes += plan.Add(request, message, now);
            nextSeq++;
        }

        return plan;
    }

    // Room for the EventsDropped record itself.
    private const long DroppedRecordReserve = 96;

    /// <summary>The oldest unacknowledged hook events adding up to at least <paramref name="bytes"/>. Under the lock.</summary>
    private (List<Entry> Victims, long Bytes) PickVictims(long bytes)
    {
        var victims = new List<Entry>();
        long freed = 0;
        foreach (var entry in _droppable)
        {
            if (freed >= bytes)
            {
                break;
            }

            if (entry.Acked || entry.Dropped || entry.Picked)
            {
                continue;
            }

            entry.Picked = true;
            victims.Add(entry);
            freed += entry.RecordBytes;
        }

        return (victims, freed);
    }

    /// <summary>The batch is indexed (or failed): its segments may be deleted again once dead. Under the lock.</summary>
    private static void ReleaseSegments(BatchPlan plan)
    {
        foreach (var (segment, _) in plan.Segments)
        {
            segment.Busy = false;
        }
    }

    private static void Unpick(List<Entry> victims)
    {
        foreach (var victim in victims)
        {
            victim.Picked = false;
        }
    }

    private static AgentMessage DroppedRecord(List<Entry> victims, ulong seq) => new()
    {
        Seq = seq,
        EventsDropped = new EventsDropped
        {
            DroppedCount = (ulong)victims.Count,
            FirstSeq = victims[0].Seq,
            LastSeq = victims[^1].Seq,
            FirstSpooledAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(victims[0].SpooledAtMs)),
            LastSpooledAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(victims[^1].SpooledAtMs)),
        },
    };

    /// <summary>Writes the planned records to the active segment (starting new ones at the size limit) and fsyncs.</summary>
    private void Write(BatchPlan plan)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        SpoolSegment? target = null;
        var lengthsBefore = plan.Segments;
        try
        {
            foreach (var record in plan.Records)
            {
                target ??= ActiveSegmentFor(record.Seq, record.Bytes.Length, lengthsBefore);
                if (target.Length + buffer.WrittenCount + record.Bytes.Length > _options.SegmentBytes && target.Length + buffer.WrittenCount > target.HeaderLength)
                {
                    target.AppendDurably(buffer.WrittenSpan);
                    buffer.Clear();
                    target = NewActiveSegment(record.Seq);
                    lengthsBefore.Add((target, target.Length));
                }

                record.Entry = new Entry
                {
                    Seq = record.Seq,
                    Segment = target,
                    Offset = target.Length + buffer.WrittenCount,
                    BodyLength = record.Bytes.Length - SpoolSegment.RecordHeaderBytes,
                    SpooledAtMs = record.SpooledAtMs,
                    Kind = record.Kind,
                    DroppedCount = record.DroppedCount,
                };
                buffer.Write(record.Bytes);
            }

            target!.AppendDurably(buffer.WrittenSpan);
        }
        catch
        {
            foreach (var (segment, length) in lengthsBefore)
            {
                segment.Rollback(length);
            }

            throw;
        }
    }

    /// <summary>The segment the next record goes to: the active one while it has room, else a new one.</summary>
    /// <remarks>
    /// The active segment is written on even when all its records are acknowledged: with a broker that acknowledges each
    /// event before the next arrives, starting a new file instead (create, header, fsync, directory fsync, and an unlink
    /// of the old one) would be the price of every single hook. A full one is sealed and deleted once all of it is acked.
    /// </remarks>
    private SpoolSegment ActiveSegmentFor(ulong seq, int recordBytes, List<(SpoolSegment Segment, long Length)> lengthsBefore)
    {
        lock (_lock)
        {
            var active = _active;
            if (active is not null && active.Length > active.HeaderLength && active.Length + recordBytes > _options.SegmentBytes)
            {
                active = null;
            }

            if (active is not null)
            {
                // Busy: records are going into it that the index does not count yet, so an ack must not delete it.
                active.Busy = true;
                lengthsBefore.Add((active, active.Length));
                return active;
            }
        }

        var created = NewActiveSegment(seq);
        lengthsBefore.Add((created, created.Length));
        return created;
    }

    /// <summary>Starts the next segment: the spare when it is ready (a rename), else a new file made here.</summary>
    private SpoolSegment NewActiveSegment(ulong firstSeq)
    {
        SpoolSegment segment;
        if (_spare is { IsCompletedSuccessfully: true } ready)
        {
            _spare = null;
#pragma warning disable VSTHRD002 // It has completed: nothing is waited on.
            segment = ready.Result;
#pragma warning restore VSTHRD002
            try
            {
                segment.Publish(Directory, firstSeq);
            }
            catch
            {
                segment.Delete();
                throw;
            }
        }
        else
        {
            segment = SpoolSegment.Create(Directory, firstSeq, Epoch, _options.SegmentBytes);
        }

        if (_spare is null || _spare.IsFaulted)
        {
            PrepareSpare();
        }

        lock (_lock)
        {
            segment.Busy = true;
            _segments.Add(segment);
            _active = segment;
        }

        return segment;
    }

    /// <summary>Prepares the next segment in the background (the writer's, or the constructor's before the writer runs).</summary>
    private void PrepareSpare()
    {
        if (_spare is { IsFaulted: true } failed)
        {
            SpoolLog.SpareFailed(_logger, failed.Exception.GetBaseException());
        }

        _spare = Task.Run(() => SpoolSegment.CreateSpare(Directory, Epoch, _options.SegmentBytes));
    }

    /// <summary>What one group commit writes.</summary>
    private sealed class BatchPlan
    {
        public List<PlannedRecord> Records { get; } = [];

        public List<Entry> Victims { get; } = [];

        public long FreedBytes { get; set; }

        /// <summary>The segments written to, with their lengths before (to roll back a failed write).</summary>
        public List<(SpoolSegment Segment, long Length)> Segments { get; } = [];

        /// <summary>Serializes <paramref name="message"/> as a record; returns its size.</summary>
        public int Add(AppendRequest? request, AgentMessage message, long spooledAtMs)
        {
            var payload = message.ToByteArray();
            var bytes = new byte[SpoolSegment.RecordHeaderBytes + SpoolSegment.BodyPrefixBytes + payload.Length];
            SpoolSegment.Encode(bytes, spooledAtMs, payload);
            Records.Add(new PlannedRecord(request, message.Seq, bytes, spooledAtMs, message.BodyCase,
                message.BodyCase == AgentMessage.BodyOneofCase.EventsDropped ? message.EventsDropped.DroppedCount : 0));
            return bytes.Length;
        }
    }

    /// <summary>One record of a group commit; its index entry is made once its place in a segment is known.</summary>
    private sealed record PlannedRecord(AppendRequest? Request, ulong Seq, byte[] Bytes, long SpooledAtMs, AgentMessage.BodyOneofCase Kind, ulong DroppedCount)
    {
        public Entry? Entry { get; set; }
    }
}
