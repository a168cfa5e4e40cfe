namespace Relay.Broker.Audit;

/// <summary>What an audited action was done to: a kind (token, machine, ...) and an id (a name for briefings).</summary>
internal readonly record struct AuditTarget(string Kind, string Id)
{
    /// <summary>The target kinds of admin_access.proto's AuditEvent.target_kind.</summary>
    public static class Kinds
    {
        public const string Prompt = "prompt";
        public const string Approval = "approval";
        public const string Launch = "launch";
        public const string Session = "session";
        public const string Token = "token";
        public const string Enrollment = "enrollment";
        public const string Machine = "machine";
        public const string Briefing = "briefing";
        public const string Policy = "policy";
    }

    public static AuditTarget Prompt(string promptId) => new(Kinds.Prompt, promptId);

    public static AuditTarget Approval(string approvalId) => new(Kinds.Approval, approvalId);

    public static AuditTarget Launch(string launchId) => new(Kinds.Launch, launchId);

    public static AuditTarget Session(Guid sessionId) => new(Kinds.Session, sessionId.ToString());

    public static AuditTarget Token(Guid tokenId) => new(Kinds.Token, tokenId.ToString());

    public static AuditTarget Enrollment(Guid enrollmentId) => new(Kinds.Enrollment, enrollmentId.ToString());

    public static AuditTarget Machine(Guid machineId) => new(Kinds.Machine, machineId.ToString());

    public static AuditTarget Briefing(string sessionName) => new(Kinds.Briefing, sessionName);

    /// <summary>The (single) messaging policy.</summary>
    public static AuditTarget Policy { get; } = new(Kinds.Policy, "policy");

    /// <summary>The stored form: <c>kind:id</c>.</summary>
    public string Stored => Kind + ":" + Id;

    /// <summary>Splits a stored target back into kind and id.</summary>
    public static AuditTarget Parse(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return default;
        }

        var colon = stored.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? new AuditTarget(string.Empty, stored) : new AuditTarget(stored[..colon], stored[(colon + 1)..]);
    }
}
