namespace Relay.Broker.Sessions;

/// <summary>The values of sessions.end_reason: the snake_case of relay.v1.SessionEndReason, plus launch_failed.</summary>
internal static class SessionEndReasons
{
    public const string Exited = "exited";
    public const string ProcessGone = "process_gone";
    public const string NotInSnapshot = "not_in_snapshot";
    public const string Stopped = "stopped";
    public const string MachineRevoked = "machine_revoked";
    public const string LaunchFailed = "launch_failed";
}
