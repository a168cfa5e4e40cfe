namespace Relay.Broker.Machines;

// EventIds 2040-2059: machines and enrolment.
internal static partial class MachineLog
{
    [LoggerMessage(EventId = 2040, EventName = "MachineRevoked", Level = LogLevel.Information,
        Message = "Machine {MachineId} ({MachineName}) revoked by {Actor}; {SessionsEnded} live session(s) ended")]
    public static partial void Revoked(ILogger logger, Guid machineId, string machineName, int sessionsEnded, string actor);

    [LoggerMessage(EventId = 2041, EventName = "EnrollmentCreated", Level = LogLevel.Information,
        Message = "Enrolment {EnrollmentId} created by {Actor} for machine name '{MachineName}', valid until {ExpiresAt}")]
    public static partial void EnrollmentCreated(ILogger logger, Guid enrollmentId, string actor, string machineName, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 2042, EventName = "MachineEnrolled", Level = LogLevel.Information,
        Message = "Machine {MachineId} ({MachineName}) enrolled with enrolment {EnrollmentId} from {RemoteAddress}")]
    public static partial void Enrolled(ILogger logger, Guid machineId, string machineName, Guid enrollmentId, string remoteAddress);

    [LoggerMessage(EventId = 2043, EventName = "EnrollmentRetried", Level = LogLevel.Information,
        Message = "Enrolment {EnrollmentId} retried with the same request id; machine {MachineId} got a replacement credential")]
    public static partial void EnrollmentRetried(ILogger logger, Guid enrollmentId, Guid machineId);

    [LoggerMessage(EventId = 2044, EventName = "EnrollmentRefused", Level = LogLevel.Information,
        Message = "Refused an enrolment from {RemoteAddress}: {Reason}")]
    public static partial void EnrollmentRefused(ILogger logger, string remoteAddress, string reason);
}
