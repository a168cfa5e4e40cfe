using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

/// <summary>The machine an AgentLink stream speaks for, and a token that fires when its credential is revoked.</summary>
internal sealed record AgentPrincipal(Guid MachineId, string MachineName, CancellationToken Revoked);

/// <summary>Who is on the other end of an AgentLink.Connect call.</summary>
internal interface IAgentIdentity
{
    /// <summary>The caller's machine; UNAUTHENTICATED without a valid machine credential.</summary>
    Task<AgentPrincipal> AuthenticateAsync(ServerCallContext context, CancellationToken cancellationToken);
}

/// <summary>
/// Reads the machine caller the access interceptor (src/Broker/Access) put into the call. When the interceptor is not
/// installed (a host that registers AgentLink alone), checks the bearer machine credential itself, with the same rules:
/// known, not revoked, its machine not revoked.
/// </summary>
internal sealed class AgentIdentity(IDbContextFactory<RelayDbContext> databases) : IAgentIdentity
{
    public async Task<AgentPrincipal> AuthenticateAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        if (context.TryGetCaller() is { } caller)
        {
            if (caller.Kind != PrincipalKind.Machine || caller.MachineId is not { } machineId)
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, "AgentLink.Connect is for relay-agent with its machine credential."));
            }

            return new AgentPrincipal(machineId, caller.MachineName ?? caller.DisplayName, caller.Revoked);
        }

        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            throw Unauthenticated("AgentLink.Connect needs the machine credential: pass 'authorization: Bearer <credential>'.");
        }

        var hash = TokenHash.Compute(header[7..].Trim());
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var found = await db.MachineCredentials
            .Where(c => c.TokenHash == hash)
            .Join(db.Machines, c => c.MachineId, m => m.Id, (c, m) => new { m.Id, m.Name, CredentialRevoked = c.RevokedAt, MachineRevoked = m.RevokedAt })
            .FirstOrDefaultAsync(cancellationToken);
        if (found is null || found.CredentialRevoked is not null || found.MachineRevoked is not null)
        {
            throw Unauthenticated(found is null
                ? "The machine credential is not known to this broker; enrol the machine again."
                : "The machine credential (or its machine) was revoked; enrol the machine again.");
        }

        return new AgentPrincipal(found.Id, found.Name, CancellationToken.None);
    }

    private static RpcException Unauthenticated(string detail) => new(new Status(StatusCode.Unauthenticated, detail));
}
