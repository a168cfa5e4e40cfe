using Relay.Broker.Validation;
using Relay.Grpc;

namespace Relay.Broker.Policy;

/// <summary>What the messaging policy says about one action: allowed or not, and why (shown to whoever was refused).</summary>
internal readonly record struct PolicyDecision(bool Allowed, string Reason)
{
    public static PolicyDecision Allow(string reason) => new(true, reason);

    public static PolicyDecision Deny(string reason) => new(false, reason);

    /// <summary>Throws PERMISSION_DENIED with the reason when the action is not allowed.</summary>
    public void ThrowIfDenied()
    {
        if (!Allowed)
        {
            throw RpcErrors.PermissionDenied(Reason);
        }
    }

    /// <summary>The same as <see cref="ThrowIfDenied"/>, for callers that want the exception.</summary>
    public RpcException ToException() => RpcErrors.PermissionDenied(Reason);
}

/// <summary>
/// What an action is aimed at, for policy matching: the target session (for VIEW and MESSAGE) or the launch request
/// (for LAUNCH: the machine, the requested name and cwd). Unknown fields stay null and never match a rule that sets them.
/// </summary>
internal sealed record PolicyTargetInfo
{
    public Guid? MachineId { get; init; }

    public string? MachineName { get; init; }

    /// <summary>The target session's name, or the requested name of a launch.</summary>
    public string? SessionName { get; init; }

    /// <summary>The target session's cwd, or the requested cwd of a launch.</summary>
    public string? Directory { get; init; }
}
