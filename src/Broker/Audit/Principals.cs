using Microsoft.EntityFrameworkCore;
using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Protocol.V1;

namespace Relay.Broker.Audit;

/// <summary>
/// Turns stored actors (<c>token:&lt;id&gt;</c>, <c>machine:&lt;id&gt;</c>, <c>session:&lt;id&gt;</c>, <c>system</c>: the
/// created_by / updated_by columns and the audit log) back into <see cref="Principal"/>s with their current names.
/// </summary>
internal static class Principals
{
    /// <summary>A principal per distinct actor in <paramref name="actors"/>, names filled with one query per kind.</summary>
    public static async Task<IReadOnlyDictionary<string, Principal>> ResolveAsync(RelayDbContext db, IEnumerable<string> actors, CancellationToken cancellationToken)
    {
        var result = actors.Distinct(StringComparer.Ordinal).ToDictionary(a => a, a => AuditLog.ActorPrincipal(a), StringComparer.Ordinal);
        var tokenIds = IdsOf(result.Values, PrincipalKind.User);
        var machineIds = IdsOf(result.Values, PrincipalKind.Machine);
        var sessionIds = IdsOf(result.Values, PrincipalKind.Session);

        var tokens = await db.ApiTokens.AsNoTracking().Where(t => tokenIds.Contains(t.Id)).ToDictionaryAsync(t => t.Id, t => t.Name, cancellationToken);
        var sessions = await db.Sessions.AsNoTracking().Where(s => sessionIds.Contains(s.Id)).ToDictionaryAsync(s => s.Id, s => new { s.Name, s.MachineId }, cancellationToken);
        machineIds.AddRange(sessions.Values.Select(s => s.MachineId));
        var machines = await db.Machines.AsNoTracking().Where(m => machineIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, m => m.Name, cancellationToken);

        foreach (var principal in result.Values)
        {
            if (!Guid.TryParse(principal.Id, out var id))
            {
                continue;
            }

            switch (principal.Kind)
            {
                case PrincipalKind.User when tokens.TryGetValue(id, out var name):
                    principal.DisplayName = name;
                    break;
                case PrincipalKind.Machine when machines.TryGetValue(id, out var name):
                    principal.DisplayName = name;
                    break;
                case PrincipalKind.Session when sessions.TryGetValue(id, out var session):
                    var caller = Caller.ForSession(id, session.Name, session.MachineId, machines.GetValueOrDefault(session.MachineId) ?? string.Empty);
                    principal.DisplayName = caller.DisplayName;
                    principal.MachineId = session.MachineId.ToString();
                    principal.MachineName = caller.MachineName ?? string.Empty;
                    break;
            }
        }

        return result;
    }

    private static List<Guid> IdsOf(IEnumerable<Principal> principals, PrincipalKind kind) =>
        principals.Where(p => p.Kind == kind).Select(p => Guid.TryParse(p.Id, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList();
}
