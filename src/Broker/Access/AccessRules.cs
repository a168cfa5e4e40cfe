using System.Collections.Frozen;
using Relay.Broker.Audit;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>Who may call a gRPC method.</summary>
internal enum AccessKind
{
    /// <summary>No credential: health checks and reflection.</summary>
    Public,

    /// <summary>No credential, rate-limited: AgentLink.Enroll.</summary>
    Enrollment,

    /// <summary>A machine credential: AgentLink.Connect.</summary>
    Machine,

    /// <summary>A personal token with at least <see cref="AccessRule.MinimumRole"/>: every Admin call.</summary>
    User,
}

/// <summary>The access rule of one method; <see cref="AuditAction"/> names the audited mutation, so refusals are audited too.</summary>
internal readonly record struct AccessRule(AccessKind Kind, Role MinimumRole = Role.Unspecified, string? AuditAction = null, string? TargetKind = null);

/// <summary>
/// The access table: the minimum role of every Admin method as admin.proto documents it. Checked centrally by the
/// <see cref="AccessInterceptor"/> before a handler runs, so a handler cannot forget its role check. Anything not
/// listed fails closed: an unknown relay.v1 method needs an admin token.
/// </summary>
internal static class AccessRules
{
    private const string AdminService = "/relay.v1.Admin/";
    private const string AgentLinkService = "/relay.v1.AgentLink/";

    private static readonly FrozenDictionary<string, AccessRule> AdminMethods = new Dictionary<string, AccessRule>(StringComparer.Ordinal)
    {
        ["ListMachines"] = new(AccessKind.User, Role.Viewer),
        ["GetMachine"] = new(AccessKind.User, Role.Viewer),
        ["CreateEnrollment"] = new(AccessKind.User, Role.Admin, AuditActions.EnrollmentCreate, AuditTarget.Kinds.Enrollment),
        ["RevokeMachine"] = new(AccessKind.User, Role.Admin, AuditActions.MachineRevoke, AuditTarget.Kinds.Machine),
        ["ListSessions"] = new(AccessKind.User, Role.Viewer),
        ["GetSession"] = new(AccessKind.User, Role.Viewer),
        ["UpdateSession"] = new(AccessKind.User, Role.Operator, AuditActions.SessionUpdate, AuditTarget.Kinds.Session),
        ["GetSessionHistory"] = new(AccessKind.User, Role.Viewer),
        ["SearchSessions"] = new(AccessKind.User, Role.Viewer),
        ["Watch"] = new(AccessKind.User, Role.Viewer),
        ["SendPrompt"] = new(AccessKind.User, Role.Operator, AuditActions.PromptSend, AuditTarget.Kinds.Prompt),
        ["GetPrompt"] = new(AccessKind.User, Role.Viewer),
        ["ListApprovals"] = new(AccessKind.User, Role.Viewer),
        ["GetApproval"] = new(AccessKind.User, Role.Viewer),
        ["DecideApproval"] = new(AccessKind.User, Role.Operator, AuditActions.ApprovalDecide, AuditTarget.Kinds.Approval),
        ["LaunchSession"] = new(AccessKind.User, Role.Operator, AuditActions.SessionLaunch, AuditTarget.Kinds.Launch),
        ["GetLaunch"] = new(AccessKind.User, Role.Viewer),
        ["StopSession"] = new(AccessKind.User, Role.Operator, AuditActions.SessionStop, AuditTarget.Kinds.Session),
        ["SetBriefing"] = new(AccessKind.User, Role.Operator, AuditActions.BriefingSet, AuditTarget.Kinds.Briefing),
        ["GetBriefing"] = new(AccessKind.User, Role.Viewer),
        ["ListBriefings"] = new(AccessKind.User, Role.Viewer),
        ["DeleteBriefing"] = new(AccessKind.User, Role.Operator, AuditActions.BriefingDelete, AuditTarget.Kinds.Briefing),
        ["GetPolicy"] = new(AccessKind.User, Role.Viewer),
        ["SetPolicy"] = new(AccessKind.User, Role.Admin, AuditActions.PolicySet, AuditTarget.Kinds.Policy),
        ["CreateToken"] = new(AccessKind.User, Role.Admin, AuditActions.TokenCreate, AuditTarget.Kinds.Token),
        ["ListTokens"] = new(AccessKind.User, Role.Admin),
        ["RevokeToken"] = new(AccessKind.User, Role.Admin, AuditActions.TokenRevoke, AuditTarget.Kinds.Token),
        ["ListAuditEvents"] = new(AccessKind.User, Role.Admin),
        ["GetServerInfo"] = new(AccessKind.User, Role.Viewer),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The rule for a method path such as <c>/relay.v1.Admin/ListSessions</c>.</summary>
    public static AccessRule For(string method)
    {
        if (method.StartsWith(AdminService, StringComparison.Ordinal))
        {
            return AdminMethods.TryGetValue(method[AdminService.Length..], out var rule) ? rule : new AccessRule(AccessKind.User, Role.Admin);
        }

        if (method.StartsWith(AgentLinkService, StringComparison.Ordinal))
        {
            return method.AsSpan(AgentLinkService.Length) is "Enroll" ? new AccessRule(AccessKind.Enrollment) : new AccessRule(AccessKind.Machine);
        }

        if (method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal) || method.StartsWith("/grpc.reflection.", StringComparison.Ordinal))
        {
            return new AccessRule(AccessKind.Public);
        }

        return new AccessRule(AccessKind.User, Role.Admin);
    }

    /// <summary>Every Admin method and its minimum role (for tests and documentation).</summary>
    public static IReadOnlyDictionary<string, AccessRule> Admin => AdminMethods;
}
