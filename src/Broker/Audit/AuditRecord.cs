using Relay.Broker.Access;
using Relay.Protocol.V1;

namespace Relay.Broker.Audit;

/// <summary>One audited action, as handlers describe it to <see cref="AuditLog"/>.</summary>
/// <param name="Actor">Who did it (remote address included).</param>
/// <param name="Action">What, from <see cref="AuditActions"/>.</param>
/// <param name="Target">What it was done to.</param>
internal sealed record AuditRecord(Caller Actor, string Action, AuditTarget Target)
{
    /// <summary>Details, serialised as a JSON object (snake_case names): the decision, a reason, a role. Never secrets.</summary>
    public object? Details { get; init; }

    /// <summary>How it went. Default: succeeded.</summary>
    public AuditOutcome Outcome { get; init; } = AuditOutcome.Succeeded;

    /// <summary>The session concerned, if any (filled automatically when the target is a session).</summary>
    public Guid? SessionId { get; init; }

    /// <summary>The machine concerned, if any (filled automatically when the target is a machine).</summary>
    public Guid? MachineId { get; init; }
}
