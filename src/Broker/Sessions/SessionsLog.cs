namespace Relay.Broker.Sessions;

// EventIds 3100-3149: sessions and reconciliation.
internal static partial class SessionsLog
{
    [LoggerMessage(EventId = 3100, EventName = "SessionEnded", Level = LogLevel.Debug,
        Message = "Session {SessionId} ended ({Reason})")]
    public static partial void SessionEnded(ILogger logger, Guid sessionId, string reason);

    [LoggerMessage(EventId = 3101, EventName = "SegmentAdded", Level = LogLevel.Debug,
        Message = "Session {SessionId} continues as Claude session {ClaudeSessionId} (segment {Ordinal})")]
    public static partial void SegmentAdded(ILogger logger, Guid sessionId, Guid claudeSessionId, int ordinal);

    [LoggerMessage(EventId = 3102, EventName = "SnapshotEndedSessions", Level = LogLevel.Information,
        Message = "Machine {MachineId}'s session snapshot ended {Count} session(s) it no longer has")]
    public static partial void SnapshotEndedSessions(ILogger logger, Guid machineId, int count);
}
