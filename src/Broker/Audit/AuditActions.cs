namespace Relay.Broker.Audit;

/// <summary>The audit log's action names (AuditEvent.action in admin_access.proto). Stable: scripts filter on them.</summary>
internal static class AuditActions
{
    public const string PromptSend = "prompt.send";
    public const string ApprovalDecide = "approval.decide";
    public const string SessionLaunch = "session.launch";
    public const string SessionStop = "session.stop";
    public const string SessionUpdate = "session.update";
    public const string TokenCreate = "token.create";
    public const string TokenRevoke = "token.revoke";
    public const string EnrollmentCreate = "enrollment.create";
    public const string MachineEnroll = "machine.enroll";
    public const string MachineRevoke = "machine.revoke";
    public const string MachineReplaceStream = "machine.replace_stream";
    public const string BriefingSet = "briefing.set";
    public const string BriefingDelete = "briefing.delete";
    public const string PolicySet = "policy.set";
}
