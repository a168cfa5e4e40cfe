namespace Relay.Agent.Spool;

// EventIds 4100-4149: the on-disk spool.
internal static partial class SpoolLog
{
    [LoggerMessage(EventId = 4100, EventName = "SpoolCreated", Level = LogLevel.Information,
        Message = "Created a new spool in {Directory} with epoch {Epoch}")]
    public static partial void Created(ILogger logger, string directory, string epoch);

    [LoggerMessage(EventId = 4101, EventName = "SpoolOpened", Level = LogLevel.Information,
        Message = "Opened the spool in {Directory} (epoch {Epoch}): {Items} unacknowledged item(s), next seq {NextSeq}")]
    public static partial void Opened(ILogger logger, string directory, string epoch, int items, ulong nextSeq);

    [LoggerMessage(EventId = 4102, EventName = "SpoolTornTail", Level = LogLevel.Warning,
        Message = "Spool segment {Segment} ended in an incomplete or damaged record (a crash while writing): cut {Bytes} byte(s). Nothing acknowledged to a producer is lost: it is acknowledged only after a complete write")]
    public static partial void TornTail(ILogger logger, string segment, long bytes);

    [LoggerMessage(EventId = 4103, EventName = "SpoolSegmentSetAside", Level = LogLevel.Error,
        Message = "Spool segment {Segment} cannot be used ({Problem}); renamed to {NewName} and skipped")]
    public static partial void SegmentSetAside(ILogger logger, string segment, string problem, string newName);

    [LoggerMessage(EventId = 4104, EventName = "SpoolMetaMissing", Level = LogLevel.Warning,
        Message = "The spool in {Directory} has segments but no {MetaFile}; continuing epoch {Epoch} from the segments, and the broker's Welcome tells what it already has")]
    public static partial void MetaMissing(ILogger logger, string directory, string metaFile, string epoch);

    [LoggerMessage(EventId = 4105, EventName = "SpoolFullDropped", Level = LogLevel.Warning,
        Message = "SPOOL FULL ({LiveBytes} of {MaxBytes} bytes): dropped the {Count} oldest unacknowledged hook event(s), seq {FirstSeq}..{LastSeq}, to make room; the broker is told by EventsDropped seq {DroppedSeq}. Replies, receipts and approvals are never dropped. Is the broker reachable? Raise Agent:Spool:MaxBytes to keep more")]
    public static partial void Dropped(ILogger logger, long liveBytes, long maxBytes, int count, ulong firstSeq, ulong lastSeq, ulong droppedSeq);

    [LoggerMessage(EventId = 4106, EventName = "SpoolFullRefused", Level = LogLevel.Warning,
        Message = "SPOOL FULL ({LiveBytes} of {MaxBytes} bytes) of items that are never dropped: a hook event was refused. Is the broker reachable? Raise Agent:Spool:MaxBytes to keep more")]
    public static partial void Refused(ILogger logger, long liveBytes, long maxBytes);

    [LoggerMessage(EventId = 4107, EventName = "SpoolOverBound", Level = LogLevel.Warning,
        Message = "SPOOL OVER ITS BOUND ({LiveBytes} of {MaxBytes} bytes): kept a {Kind} beyond it, since replies, receipts and approvals are never dropped")]
    public static partial void OverBound(ILogger logger, long liveBytes, long maxBytes, string kind);

    [LoggerMessage(EventId = 4108, EventName = "SpoolWriteFailed", Level = LogLevel.Error,
        Message = "Writing {Count} item(s) to the spool failed; their producers were told")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 4109, EventName = "SpoolSegmentDeleteFailed", Level = LogLevel.Warning,
        Message = "Could not delete the fully acknowledged spool segment {Segment}; the next start removes it")]
    public static partial void DeleteFailed(ILogger logger, Exception exception, string segment);

    [LoggerMessage(EventId = 4110, EventName = "SpoolSpareFailed", Level = LogLevel.Warning,
        Message = "Could not prepare the next spool segment ahead; the writer makes it when it is needed")]
    public static partial void SpareFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4111, EventName = "SpoolAckFlushFailed", Level = LogLevel.Warning,
        Message = "Could not flush the acknowledged position in {Directory} on stopping; after a power loss the next start may send acknowledged items again (the broker ignores them)")]
    public static partial void AckFlushFailed(ILogger logger, Exception exception, string directory);
}
