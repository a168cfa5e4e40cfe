using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>
/// Who is behind a call or an action: a person or script (personal token), a machine's agent (machine credential), a
/// session acting through its channel tools, or the broker itself. The <see cref="AccessInterceptor"/> puts the
/// authenticated caller of every Admin and AgentLink.Connect call into the call's user state; read it with
/// <see cref="CallerContextExtensions.GetCaller"/>.
/// </summary>
internal sealed record Caller
{
    /// <summary>The broker itself: expiry, reconciliation, first-start bootstrap.</summary>
    public static readonly Caller System = new() { Kind = PrincipalKind.System, Id = string.Empty, DisplayName = "relay" };

    /// <summary>What kind of actor this is.</summary>
    public required PrincipalKind Kind { get; init; }

    /// <summary>Token id (users), machine id (machines), Relay session id (sessions); empty for the system.</summary>
    public required string Id { get; init; }

    /// <summary>Token name, machine name, session name (or its short id), or "relay".</summary>
    public required string DisplayName { get; init; }

    /// <summary>The token's role; <see cref="Role.Unspecified"/> for everyone but users.</summary>
    public Role Role { get; init; }

    /// <summary>The machine of a machine or session caller.</summary>
    public Guid? MachineId { get; init; }

    /// <summary>That machine's name.</summary>
    public string? MachineName { get; init; }

    /// <summary>For session callers: the session's name, null while unnamed (policy globs match against it).</summary>
    public string? SessionName { get; init; }

    /// <summary>The caller's network address as gRPC reports it (<c>ipv4:127.0.0.1:51234</c>); kept in the audit log.</summary>
    public string? RemoteAddress { get; init; }

    /// <summary>
    /// Fires when the caller's token or machine credential is revoked through this broker replica, so long-lived
    /// streams (Watch, Connect) can end at once: link it with the call's cancellation token.
    /// </summary>
    public CancellationToken Revoked { get; init; }

    /// <summary>The machine id of a machine caller as a Guid; throws for other kinds.</summary>
    public Guid RequiredMachineId => MachineId ?? throw new InvalidOperationException($"A {Kind} caller has no machine.");

    /// <summary>How the audit log and the created_by/updated_by columns name this caller.</summary>
    public string AuditActor => Kind switch
    {
        PrincipalKind.User => "token:" + Id,
        PrincipalKind.Machine => "machine:" + Id,
        PrincipalKind.Session => "session:" + Id,
        _ => "system",
    };

    /// <summary>True for a user whose role is at least <paramref name="minimum"/> (the system passes every check).</summary>
    public bool HasRole(Role minimum) => Kind == PrincipalKind.System || (Kind == PrincipalKind.User && Role >= minimum);

    /// <summary>The caller as the contract's <see cref="Principal"/>.</summary>
    public Principal ToPrincipal() => new()
    {
        Kind = Kind,
        Id = Id,
        DisplayName = DisplayName,
        MachineId = Kind == PrincipalKind.Session ? MachineId?.ToString() ?? string.Empty : string.Empty,
        MachineName = Kind == PrincipalKind.Session ? MachineName ?? string.Empty : string.Empty,
    };

    /// <summary>A session acting through its channel's tools (send_message, launch_session) on <paramref name="machineId"/>.</summary>
    public static Caller ForSession(Guid sessionId, string? sessionName, Guid machineId, string machineName, string? remoteAddress = null) => new()
    {
        Kind = PrincipalKind.Session,
        Id = sessionId.ToString(),
        DisplayName = string.IsNullOrEmpty(sessionName) ? sessionId.ToString("N")[..8] : sessionName,
        SessionName = string.IsNullOrEmpty(sessionName) ? null : sessionName,
        MachineId = machineId,
        MachineName = machineName,
        RemoteAddress = remoteAddress,
    };

    /// <summary>A machine's agent.</summary>
    public static Caller ForMachine(Guid machineId, string machineName, string? remoteAddress = null, CancellationToken revoked = default) => new()
    {
        Kind = PrincipalKind.Machine,
        Id = machineId.ToString(),
        DisplayName = machineName,
        MachineId = machineId,
        MachineName = machineName,
        RemoteAddress = remoteAddress,
        Revoked = revoked,
    };

    /// <summary>A person or script holding personal token <paramref name="tokenId"/>.</summary>
    public static Caller ForUser(Guid tokenId, string tokenName, Role role, string? remoteAddress = null, CancellationToken revoked = default) => new()
    {
        Kind = PrincipalKind.User,
        Id = tokenId.ToString(),
        DisplayName = tokenName,
        Role = role,
        RemoteAddress = remoteAddress,
        Revoked = revoked,
    };
}
