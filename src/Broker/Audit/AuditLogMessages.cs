using Relay.Protocol.V1;

namespace Relay.Broker.Audit;

// EventIds 2030-2039: audit log.
internal static partial class AuditLogMessages
{
    [LoggerMessage(EventId = 2030, EventName = "AuditRecorded", Level = LogLevel.Debug,
        Message = "Audit: {Action} on {Target} by {Actor} ({Outcome})")]
    public static partial void Recorded(ILogger logger, string action, string target, string actor, AuditOutcome outcome);
}
