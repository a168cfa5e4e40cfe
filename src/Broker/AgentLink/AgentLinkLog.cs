namespace Relay.Broker.AgentLink;

// EventIds 3000-3099: the agents' stream (AgentLink.Connect).
internal static partial class AgentLinkLog
{
    [LoggerMessage(EventId = 3000, EventName = "AgentConnected", Level = LogLevel.Information,
        Message = "Machine {MachineName} ({MachineId}) connected: stream {ConnectionId}, agent {AgentVersion}, resumes after agent seq {LastAgentSeq} and broker seq {AgentPosition}")]
    public static partial void Connected(ILogger logger, string machineName, Guid machineId, Guid connectionId, string agentVersion, long lastAgentSeq, long agentPosition);

    [LoggerMessage(EventId = 3001, EventName = "AgentDisconnected", Level = LogLevel.Information,
        Message = "Machine {MachineName} stream {ConnectionId} ended: {Kind} ({Detail})")]
    public static partial void Disconnected(ILogger logger, string machineName, Guid connectionId, ConnectionEndKind kind, string detail);

    [LoggerMessage(EventId = 3002, EventName = "BatchFailed", Level = LogLevel.Warning,
        Message = "Storing a batch of {Count} message(s) from machine {MachineName} failed; the stream ends and the agent resends them")]
    public static partial void BatchFailed(ILogger logger, Exception exception, int count, string machineName);

    [LoggerMessage(EventId = 3003, EventName = "BatchIsolated", Level = LogLevel.Warning,
        Message = "A batch from machine {MachineName} broke a database rule; storing its {Count} message(s) one by one")]
    public static partial void BatchIsolated(ILogger logger, Exception exception, string machineName, int count);

    [LoggerMessage(EventId = 3004, EventName = "MessageRefusedByDatabase", Level = LogLevel.Warning,
        Message = "Message seq {Seq} from machine {MachineName} cannot be stored and is recorded as rejected")]
    public static partial void MessageRefusedByDatabase(ILogger logger, Exception exception, long seq, string machineName);

    [LoggerMessage(EventId = 3005, EventName = "AgentNotice", Level = LogLevel.Information,
        Message = "Machine {MachineName} reports {Code}: {Message}")]
    public static partial void AgentNotice(ILogger logger, string machineName, Protocol.V1.ErrorCode code, string message);

    [LoggerMessage(EventId = 3006, EventName = "DeliveryFailed", Level = LogLevel.Warning,
        Message = "Delivering to machine {MachineName} failed; the stream ends and the agent resumes")]
    public static partial void DeliveryFailed(ILogger logger, Exception exception, string machineName);

    [LoggerMessage(EventId = 3007, EventName = "ReleaseFailed", Level = LogLevel.Warning,
        Message = "Could not record machine {MachineName} offline; its lease expires on its own")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string machineName);

    [LoggerMessage(EventId = 3008, EventName = "ToolCallFailed", Level = LogLevel.Warning,
        Message = "Tool call {RequestId} from machine {MachineName} failed")]
    public static partial void ToolCallFailed(ILogger logger, Exception exception, string requestId, string machineName);

    [LoggerMessage(EventId = 3009, EventName = "BriefingSyncFailed", Level = LogLevel.Warning,
        Message = "Reading the standing briefings for machine {MachineName} failed; the stream ends and the agent's next Welcome carries them")]
    public static partial void BriefingSyncFailed(ILogger logger, Exception exception, string machineName);

    [LoggerMessage(EventId = 3010, EventName = "PresenceSweepFailed", Level = LogLevel.Warning,
        Message = "Renewing the agent streams' leases or looking for queued work failed; the next sweep tries again")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3011, EventName = "GroupSplit", Level = LogLevel.Debug,
        Message = "A group of {Batches} batches of hook events failed in its one round trip and was rolled back; its batches are stored one by one, each in its own savepoint")]
    public static partial void GroupSplit(ILogger logger, Exception exception, int batches);

    [LoggerMessage(EventId = 3012, EventName = "MemoryOutOfDate", Level = LogLevel.Debug,
        Message = "A batch of {Machine} prepared from its stream's memory was rolled back (SQLSTATE {SqlState}): stored again with its lookups under the lock")]
    public static partial void MemoryOutOfDate(ILogger logger, string machine, string sqlState);
}
