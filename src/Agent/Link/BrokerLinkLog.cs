using Relay.Protocol.V1;

namespace Relay.Agent.Link;

// EventIds 4000-4099: the broker link.
internal static partial class BrokerLinkLog
{
    [LoggerMessage(EventId = 4000, EventName = "LinkNotEnrolled", Level = LogLevel.Warning,
        Message = "This machine is not enrolled ({ConfigPath} has no broker, machine id or credential): run 'relay-agent enroll --broker <url> --token <token>'. Hooks and channels still work locally and are spooled")]
    public static partial void NotEnrolled(ILogger logger, string configPath);

    [LoggerMessage(EventId = 4001, EventName = "LinkConnecting", Level = LogLevel.Debug,
        Message = "Connecting to broker {Broker} as machine {MachineId}")]
    public static partial void Connecting(ILogger logger, string broker, string machineId);

    [LoggerMessage(EventId = 4002, EventName = "LinkConnected", Level = LogLevel.Information,
        Message = "Connected to broker {Broker} ({BrokerVersion}, replica {Replica}) as machine {MachineName}: stream {ConnectionId}; the broker has agent seqs up to {LastAgentSeq}, {Backlog} spooled item(s) to send")]
    public static partial void Connected(ILogger logger, string broker, string brokerVersion, string replica, string machineName, string connectionId, ulong lastAgentSeq, ulong backlog);

    [LoggerMessage(EventId = 4003, EventName = "LinkDisconnected", Level = LogLevel.Warning,
        Message = "Broker link to {Broker} is down ({Reason}); reconnecting in {Delay}")]
    public static partial void Disconnected(ILogger logger, string broker, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 4004, EventName = "LinkCredentialRefused", Level = LogLevel.Error,
        Message = "THE BROKER REFUSED THIS MACHINE'S CREDENTIAL ({Detail}). The machine may have been revoked: enrol it again with 'relay-agent enroll --broker <url> --token <new token>' (an admin creates the token with 'relayctl machines enroll <name>'). Next attempt in {Delay}")]
    public static partial void CredentialRefused(ILogger logger, string detail, TimeSpan delay);

    [LoggerMessage(EventId = 4005, EventName = "LinkNotice", Level = LogLevel.Information,
        Message = "Broker notice {Code}: {Message} (closing: {Closing})")]
    public static partial void Notice(ILogger logger, ErrorCode code, string message, bool closing);

    [LoggerMessage(EventId = 4006, EventName = "LinkReplaced", Level = LogLevel.Warning,
        Message = "Another relay-agent with this machine's credential connected and replaced this one ({Message}); is the agent running twice?")]
    public static partial void Replaced(ILogger logger, string message);

    [LoggerMessage(EventId = 4007, EventName = "LinkInboundFailed", Level = LogLevel.Error,
        Message = "Handling broker message seq {Seq} ({Kind}) failed; it stays unacknowledged and the broker resends it after the reconnect")]
    public static partial void InboundFailed(ILogger logger, Exception exception, ulong seq, BrokerMessage.BodyOneofCase kind);

    [LoggerMessage(EventId = 4008, EventName = "LinkConfigUnusable", Level = LogLevel.Error,
        Message = "The agent's configuration cannot be used: {Problem}")]
    public static partial void ConfigUnusable(ILogger logger, string problem);

    [LoggerMessage(EventId = 4009, EventName = "LinkStateFailed", Level = LogLevel.Warning,
        Message = "Handling unsequenced broker state ({Kind}) failed")]
    public static partial void StateFailed(ILogger logger, Exception exception, BrokerMessage.BodyOneofCase kind);

    [LoggerMessage(EventId = 4010, EventName = "LinkUnknownToolResult", Level = LogLevel.Debug,
        Message = "A tool result for request {RequestId} arrived after its caller stopped waiting")]
    public static partial void UnknownToolResult(ILogger logger, string requestId);

    [LoggerMessage(EventId = 4011, EventName = "LinkStreamFailed", Level = LogLevel.Warning,
        Message = "The broker link's stream failed unexpectedly")]
    public static partial void StreamFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4012, EventName = "LinkProtocolError", Level = LogLevel.Warning,
        Message = "The broker broke the link protocol: {Problem}")]
    public static partial void ProtocolError(ILogger logger, string problem);
}
