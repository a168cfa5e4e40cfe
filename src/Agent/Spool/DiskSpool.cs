using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Protocol.V1;

namespace Relay.Agent.Spool;

/// <summary>
/// The agent's spool on disk (see <see cref="IAgentSpool"/>): append-only segment files under the spool directory, a
/// small meta file with the epoch and the acknowledged position, and an in-memory index of the unacknowledged records.
/// One writer task owns the files' tails: appends queue in a bounded channel, and everything queued when the writer
/// wakes is written and fsynced together (group commit), so concurrent producers share one flush. Reads (for the
/// link) use positional I/O on the same files.
/// <para>
/// The bound (<see cref="SpoolOptions.MaxBytes"/>) counts the bytes of unacknowledged, undropped records. When an append
/// would pass it, the oldest unacknowledged hook events are dropped and one sequenced <see cref="EventsDropped"/>
/// records them. Nothing else is ever dropped: a reply, receipt, approval or session message is kept even beyond the
/// bound (the bound is soft for them), because losing one loses a person's work or leaves Claude waiting forever,
/// while disk grows only as fast as people act. A hook event that finds the spool full of such items is refused with
/// <see cref="SpoolFullException"/> at once, so the hook is still answered without waiting.
/// </para>
/// </summary>
internal sealed partial class DiskSpool : IAgentSpool, IAsyncDisposable
{
    private const int MaxBatch = 1024;

    private readonly SpoolOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly Queue<Entry> _droppable = new();
    private readonly List<SpoolSegment> _segments = [];
    private readonly Channel<AppendRequest> _queue;
    private readonly SemaphoreSlim _metaLock = new(1, 1);
    private readonly Task _writer;
    private SpoolAckFile? _ackFile;
    // Completed by the writer, whose thread runs the waiting sender on (see Commit).
    private TaskCompletionSource _appended = new();
    private SpoolSegment? _active;
    private Task<SpoolSegment>? _spare;
    private int _head;
    private long _nextSeq;
    private ulong _lastSeq;
    private ulong _acked;
    private ulong _droppedAcked;
    private ulong _droppedLive;
    private long _liveBytes;
    private int _liveItems;
    private int _disposed;

    public DiskSpool(IOptions<SpoolOptions> options, TimeProvider time, ILogger<DiskSpool> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        Directory = _options.ResolveDirectory();
        _queue = Channel.CreateBounded<AppendRequest>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Epoch = Recover();
        PrepareSpare();
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The spool's directory.</summary>
    public string Directory { get; }

    public string Epoch { get; }

    /// <summary>The spare segment being prepared (for tests; read it only while no append is in flight).</summary>
    internal Task SpareReady => _spare ?? Task.CompletedTask;

    public ulong NextSeq => (ulong)Volatile.Read(ref _nextSeq);

    /// <summary>The highest seq the broker has acknowledged.</summary>
    public ulong AckedSeq
    {
        get
        {
            lock (_lock)
            {
                return _acked;
            }
        }
    }

    public SpoolStats Stats
    {
        get
        {
            lock (_lock)
            {
                var stats = new SpoolStats
                {
                    Items = (ulong)_liveItems,
                    Bytes = (ulong)_segments.Sum(s => s.Length),
                    CapacityBytes = (ulong)_options.MaxBytes,
                    DroppedTotal = _droppedAcked + _droppedLive,
                };
                for (var i = _head; i < _entries.Count; i++)
                {
                    if (!_entries[i].Dropped)
                    {
                        stats.OldestItemAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(_entries[i].SpooledAtMs));
                        break;
                    }
                }

                return stats;
            }
        }
    }

    public ValueTask<ulong> AppendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!IsSequenced(message.BodyCase))
        {
            throw new ArgumentException($"Only sequenced messages are spooled, not {message.BodyCase}.", nameof(message));
        }

        if (message.Traceparent.Length == 0)
        {
            // The span that produced the message (a hook, a reply) becomes the parent of the broker's span that stores it.
            message.Traceparent = Diagnostics.AgentTelemetry.CurrentTraceparent();
        }

        return EnqueueAsync(new AppendRequest(message), cancellationToken);
    }

    public ValueTask<ulong> AppendAsync(Func<AgentMessage> compose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(compose);
        return EnqueueAsync(new AppendRequest(compose, Diagnostics.AgentTelemetry.CurrentTraceparent()), cancellationToken);
    }

    private async ValueTask<ulong> EnqueueAsync(AppendRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(DiskSpool), "The spool is closed (the agent is stopping).");
        }

        // Once queued, the item is written even if this caller stops waiting.
        return await request.Completion.Task.WaitAsync(cancellationToken);
    }

    public IReadOnlyList<AgentMessage> ReadAfter(ulong afterSeq, int max)
    {
        var result = new List<AgentMessage>(Math.Min(Math.Max(max, 0), 256));
        lock (_lock)
        {
            for (var i = FirstIndexAfter(afterSeq); i < _entries.Count && result.Count < max; i++)
            {
                var entry = _entries[i];
                if (entry.Dropped)
                {
                    continue;
                }

                var body = entry.Segment.ReadBody(entry.Offset, entry.BodyLength);
                result.Add(AgentMessage.Parser.ParseFrom(body, SpoolSegment.BodyPrefixBytes, body.Length - SpoolSegment.BodyPrefixBytes));
            }
        }

        return result;
    }

    public async ValueTask WaitForMessagesAfterAsync(ulong afterSeq, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task appended;
            lock (_lock)
            {
                // The highest record is never a dropped one (its EventsDropped comes after it), so this means readable.
                if (_lastSeq > Math.Max(afterSeq, _acked))
                {
                    return;
                }

                appended = _appended.Task;
            }

            await appended.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask AcknowledgeAsync(ulong seq, CancellationToken cancellationToken)
    {
        await _metaLock.WaitAsync(cancellationToken);
        try
        {
            SpoolMeta meta;
            List<SpoolSegment> dead;
            lock (_lock)
            {
                seq = Math.Min(seq, _lastSeq);
                if (seq <= _acked)
                {
                    return;
                }

                while (_head < _entries.Count && _entries[_head].Seq <= seq)
                {
                    var entry = _entries[_head++];
                    entry.Acked = true;
                    if (!entry.Dropped)
                    {
                        Forget(entry);
                    }

                    if (entry.DroppedCount > 0)
                    {
                        _droppedLive -= entry.DroppedCount;
                        _droppedAcked += entry.DroppedCount;
                    }
                }

                CompactIndex();
                _acked = seq;
                meta = new SpoolMeta { Epoch = Epoch, AckedSeq = seq, DroppedAcked = _droppedAcked };
                dead = TakeDeadSegments();
            }

            // In place, without an fsync (see SpoolAckFile): exact after a crash of the agent, possibly older after one of
            // the machine, which only means records the broker has are sent again.
            _ackFile!.Write(meta.Epoch, meta.AckedSeq, meta.DroppedAcked);
            if (dead.Count > 0)
            {
                // The position is durable before records go: a crash in between leaves dead segments that the next start
                // removes, never a hole. Once per segment, not per Ack.
                meta.Save(Directory);
                DeleteSegments(dead);
            }
        }
        finally
        {
            _metaLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        await _writer;
        if (_spare is not null)
        {
            try
            {
                (await _spare).Delete();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Recovery deletes a leftover spare.
            }
        }

        lock (_lock)
        {
            foreach (var segment in _segments)
            {
                segment.Dispose();
            }

            _segments.Clear();
        }

        await _metaLock.WaitAsync();
        try
        {
            // A graceful stop leaves the exact position on disk, power loss or not.
            _ackFile?.Flush();
        }
        catch (IOException ex)
        {
            SpoolLog.AckFlushFailed(_logger, ex, Directory);
        }
        finally
        {
            _ackFile?.Dispose();
            _metaLock.Release();
        }

        _metaLock.Dispose();
    }

    /// <summary>True for the bodies agent_link.proto marks sequenced.</summary>
    internal static bool IsSequenced(AgentMessage.BodyOneofCase body) => body is not (
        AgentMessage.BodyOneofCase.None or AgentMessage.BodyOneofCase.Hello or AgentMessage.BodyOneofCase.Ack
        or AgentMessage.BodyOneofCase.Heartbeat or AgentMessage.BodyOneofCase.ToolCall or AgentMessage.BodyOneofCase.Notice);

    /// <summary>Only hook events may be dropped when the spool is full.</summary>
    internal static bool IsDroppable(AgentMessage.BodyOneofCase body) => body == AgentMessage.BodyOneofCase.HookEvent;

    private int FirstIndexAfter(ulong seq)
    {
        int low = _head, high = _entries.Count;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if (_entries[middle].Seq <= seq)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>An entry leaves the live set (acknowledged or dropped). Under the lock.</summary>
    private void Forget(Entry entry)
    {
        _liveBytes -= entry.RecordBytes;
        _liveItems--;
        entry.Segment.Live--;
    }

    private void CompactIndex()
    {
        if (_head > 1024 && _head > _entries.Count / 2)
        {
            _entries.RemoveRange(0, _head);
            _head = 0;
        }

        while (_droppable.TryPeek(out var first) && (first.Acked || first.Dropped))
        {
            _droppable.Dequeue();
        }
    }

    /// <summary>Segments without a live record, except the one being written. Under the lock.</summary>
    private List<SpoolSegment> TakeDeadSegments()
    {
        var dead = _segments.Where(s => s.Live == 0 && !s.Busy && !ReferenceEquals(s, _active)).ToList();
        foreach (var segment in dead)
        {
            _segments.Remove(segment);
        }

        return dead;
    }

    private void DeleteSegments(List<SpoolSegment> segments)
    {
        foreach (var segment in segments)
        {
            try
            {
                segment.Delete();
            }
            catch (IOException ex)
            {
                SpoolLog.DeleteFailed(_logger, ex, segment.FilePath);
            }
        }
    }

    /// <summary>One record in the index.</summary>
    private sealed class Entry
    {
        public required ulong Seq { get; init; }

        public required SpoolSegment Segment { get; init; }

        public required long Offset { get; init; }

        public required int BodyLength { get; init; }

        public required long SpooledAtMs { get; init; }

        public required AgentMessage.BodyOneofCase Kind { get; init; }

        /// <summary>For an EventsDropped record: how many it dropped.</summary>
        public ulong DroppedCount { get; init; }

        public long RecordBytes => SpoolSegment.RecordHeaderBytes + BodyLength;

        public bool Acked { get; set; }

        public bool Dropped { get; set; }

        /// <summary>Chosen as a victim by the batch being written (not yet dropped).</summary>
        public bool Picked { get; set; }
    }

    /// <summary>A queued append and its producer's wait.</summary>
    /// <remarks>
    /// The completion runs its continuation where it is completed (no RunContinuationsAsynchronously): only
    /// <see cref="Succeed"/> with <c>inline</c> does that, outside the spool's locks; everything else goes through the
    /// thread pool.
    /// </remarks>
    private sealed class AppendRequest
    {
        private readonly Func<AgentMessage>? _compose;
        private readonly string _traceparent = string.Empty;
        private AgentMessage? _message;

        public AppendRequest(AgentMessage message) => _message = message;

        public AppendRequest(Func<AgentMessage> compose, string traceparent) => (_compose, _traceparent) = (compose, traceparent);

        /// <summary>
        /// The message; one given as a composer is composed here, on the writer, just before it gets its seq.
        /// </summary>
        /// <exception cref="ArgumentException">The composer made a message that is not spooled (unsequenced).</exception>
        public AgentMessage Compose()
        {
            if (_message is null)
            {
                var message = _compose!();
                if (!IsSequenced(message.BodyCase))
                {
                    throw new ArgumentException($"Only sequenced messages are spooled, not {message.BodyCase}.");
                }

                if (message.Traceparent.Length == 0)
                {
                    message.Traceparent = _traceparent;
                }

                _message = message;
            }

            return _message;
        }

        public TaskCompletionSource<ulong> Completion { get; } = new();

        /// <summary>Durable as <paramref name="seq"/>: the producer goes on here (<paramref name="inline"/>) or on the pool.</summary>
        public void Succeed(ulong seq, bool inline)
        {
            if (inline)
            {
                Completion.TrySetResult(seq);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(static state => state.Request.Completion.TrySetResult(state.Seq), (Request: this, Seq: seq), preferLocal: false);
            }
        }

        /// <summary>Not spooled: the producer hears why on the thread pool (callers may hold the spool's lock).</summary>
        public void Fail(Exception exception) =>
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Request.Completion.TrySetException(state.Exception), (Request: this, Exception: exception), preferLocal: false);
    }
}
