using Google.Protobuf;
using Relay.Protocol.V1;

namespace Relay.Agent.Spool;

internal sealed partial class DiskSpool
{
    /// <summary>
    /// Opens the spool directory: creates a new spool (new epoch) when there is none, else reads every segment, cuts a
    /// torn tail (a record the crash left half-written was never acknowledged to its producer), rebuilds the index of
    /// unacknowledged records and re-applies the drops recorded by EventsDropped. Returns the epoch.
    /// </summary>
    private string Recover()
    {
        System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Delete(Path.Combine(Directory, SpoolMeta.FileName + ".tmp"));
        foreach (var spare in System.IO.Directory.GetFiles(Directory, "*" + SpoolSegment.SpareExtension))
        {
            File.Delete(spare);
        }

        var meta = SpoolMeta.Load(Directory);
        var files = System.IO.Directory.GetFiles(Directory, "*" + SpoolSegment.Extension);
        Array.Sort(files, StringComparer.Ordinal);
        var segments = new List<(SpoolSegment Segment, string Epoch)>();
        foreach (var file in files)
        {
            var segment = SpoolSegment.Open(file, out var segmentEpoch, out var problem);
            if (segment is null)
            {
                SetAside(file, problem!);
                continue;
            }

            segments.Add((segment, segmentEpoch!));
        }

        if (meta is null)
        {
            if (segments.Count == 0)
            {
                meta = new SpoolMeta { Epoch = Guid.NewGuid().ToString("N") };
                meta.Save(Directory);
                SpoolLog.Created(_logger, Directory, meta.Epoch);
            }
            else
            {
                meta = new SpoolMeta { Epoch = segments[0].Epoch };
                SpoolLog.MetaMissing(_logger, Directory, SpoolMeta.FileName, meta.Epoch);
                meta.Save(Directory);
            }
        }

        _ackFile = SpoolAckFile.Open(Directory);
        if (_ackFile.Stored is { } stored && stored.Epoch == meta.Epoch && stored.AckedSeq > meta.AckedSeq)
        {
            // The Acks since the last segment was deleted. Saved into the meta before anything is deleted on their account
            // below: the ack file is not fsynced, and a position only ever moves forward on disk.
            meta = meta with { AckedSeq = stored.AckedSeq, DroppedAcked = Math.Max(stored.DroppedAcked, meta.DroppedAcked) };
            meta.Save(Directory);
        }

        _acked = meta.AckedSeq;
        _droppedAcked = meta.DroppedAcked;
        var highest = meta.AckedSeq;
        var drops = new List<(ulong First, ulong Last)>();
        foreach (var (segment, segmentEpoch) in segments)
        {
            if (segmentEpoch != meta.Epoch)
            {
                segment.Dispose();
                SetAside(segment.FilePath, $"it belongs to spool epoch {segmentEpoch}, not {meta.Epoch}");
                continue;
            }

            highest = Load(segment, highest, drops);
            _segments.Add(segment);
        }

        foreach (var (first, last) in drops)
        {
            for (var i = FirstIndexAfter(first - 1); i < _entries.Count && _entries[i].Seq <= last; i++)
            {
                if (_entries[i] is { Dropped: false } entry && IsDroppable(entry.Kind))
                {
                    entry.Dropped = true;
                    Forget(entry);
                }
            }
        }

        CompactIndex();
        // The last segment is written on while it has room, acknowledged or not (see ActiveSegmentFor).
        _active = _segments.Count > 0 && _segments[^1] is var tail && tail.Length < _options.SegmentBytes ? tail : null;

        // A tail written before segments were preallocated (or cut back) gets its zeros now, not on the first hook.
        _active?.Preallocate(_options.SegmentBytes);
        DeleteSegments(TakeDeadSegments());
        _lastSeq = highest;
        _nextSeq = (long)highest + 1;
        SpoolLog.Opened(_logger, Directory, meta.Epoch, _liveItems, highest + 1);
        return meta.Epoch;
    }

    /// <summary>Indexes one segment's records above the acknowledged position; returns the highest seq seen.</summary>
    private ulong Load(SpoolSegment segment, ulong highest, List<(ulong First, ulong Last)> drops)
    {
        var records = segment.Scan(_options.MaxItemBytes + SpoolSegment.BodyPrefixBytes, out var validLength);
        foreach (var record in records)
        {
            AgentMessage message;
            try
            {
                message = AgentMessage.Parser.ParseFrom(record.Body, SpoolSegment.BodyPrefixBytes, record.BodyLength - SpoolSegment.BodyPrefixBytes);
            }
            catch (InvalidProtocolBufferException)
            {
                validLength = record.Offset;
                break;
            }

            // Seqs only grow through the files; one that does not is damage, and what follows it is not trusted.
            if (message.Seq <= highest && message.Seq > _acked)
            {
                validLength = record.Offset;
                break;
            }

            highest = Math.Max(highest, message.Seq);
            if (message.Seq <= _acked)
            {
                continue;
            }

            var entry = new Entry
            {
                Seq = message.Seq,
                Segment = segment,
                Offset = record.Offset,
                BodyLength = record.BodyLength,
                SpooledAtMs = BitConverter.ToInt64(record.Body, 0),
                Kind = message.BodyCase,
                DroppedCount = message.BodyCase == AgentMessage.BodyOneofCase.EventsDropped ? message.EventsDropped.DroppedCount : 0,
            };
            Add(entry);
            if (message.BodyCase == AgentMessage.BodyOneofCase.EventsDropped && message.EventsDropped.FirstSeq > 0)
            {
                drops.Add((message.EventsDropped.FirstSeq, message.EventsDropped.LastSeq));
            }
        }

        var cut = segment.CutAfter(validLength);
        if (cut > 0)
        {
            SpoolLog.TornTail(_logger, segment.FilePath, cut);
        }

        return highest;
    }

    /// <summary>Adds a durable record to the index. Under the lock (or before the writer starts).</summary>
    private void Add(Entry entry)
    {
        _entries.Add(entry);
        _liveBytes += entry.RecordBytes;
        _liveItems++;
        entry.Segment.Live++;
        _droppedLive += entry.DroppedCount;
        if (IsDroppable(entry.Kind))
        {
            _droppable.Enqueue(entry);
        }
    }

    private void SetAside(string file, string problem)
    {
        var aside = file + ".damaged";
        File.Move(file, aside, overwrite: true);
        SpoolLog.SegmentSetAside(_logger, file, problem, aside);
    }
}
