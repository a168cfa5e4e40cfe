using Microsoft.Extensions.Options;
using Relay.Broker.Audit;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Policy;
using Relay.Broker.Sessions;
using Relay.Protocol.V1;

namespace Relay.Broker.Delivery;

/// <summary>
/// Applies what agents report about delivery, inside the inbound batch's transaction: prompt receipts, replies,
/// permission requests and closures, launch and stop results, and messages from one session to another. One partial
/// file per report.
/// </summary>
internal sealed partial class DeliveryInbound(
    SessionReconciler sessions,
    PolicyEvaluator policy,
    AuditLog audit,
    IOptions<DeliveryOptions> options,
    ILogger<DeliveryInbound> logger)
{
    /// <summary>A session of the machine, found by id; another machine's rejects the message.</summary>
    private static async Task<RelaySession> OwnSessionAsync(IngestContext context, Guid sessionId, string what, CancellationToken cancellationToken)
    {
        var session = await context.Db.Sessions.FindAsync([sessionId], cancellationToken)
            ?? throw new MessageRejectedException(ErrorCode.NotFound, $"{what} names a session the broker does not know.");
        if (session.MachineId != context.Machine.Id)
        {
            throw new MessageRejectedException(ErrorCode.PermissionDenied, $"{what} belongs to a session of another machine; an agent speaks only for its own machine.");
        }

        return session;
    }

    private static string SessionLabel(RelaySession session, string machineName) =>
        string.IsNullOrEmpty(session.Name) ? $"{session.Id.ToString("N")[..8]} on {machineName}" : $"{session.Name} on {machineName}";
}
