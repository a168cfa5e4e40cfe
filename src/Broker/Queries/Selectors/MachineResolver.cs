using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;

namespace Relay.Broker.Queries.Selectors;

/// <summary>Resolves a machine named by id or by name (the two never collide: names are not UUIDs in practice, ids are).</summary>
internal sealed class MachineResolver(IDbContextFactory<RelayDbContext> dbFactory)
{
    public async Task<MachineRef> ResolveAsync(string machine, string field, CancellationToken cancellationToken)
    {
        var found = await FindAsync(machine, field, cancellationToken);
        return found ?? throw AdminErrors.NotFound($"{field}: no machine has the id or name '{machine}'.");
    }

    /// <summary>Resolves each of <paramref name="machines"/>; NOT_FOUND names the first unknown one.</summary>
    public async Task<List<MachineRef>> ResolveAllAsync(IEnumerable<string> machines, string field, CancellationToken cancellationToken)
    {
        var resolved = new List<MachineRef>();
        foreach (var machine in machines.Distinct(StringComparer.Ordinal))
        {
            resolved.Add(await ResolveAsync(machine, field, cancellationToken));
        }

        return resolved;
    }

    private async Task<MachineRef?> FindAsync(string machine, string field, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(machine))
        {
            throw AdminErrors.InvalidArgument(field, "must be a machine id or name, not empty.");
        }

        if (machine.Length > Limits.Name)
        {
            throw AdminErrors.InvalidArgument(field, $"at most {Limits.Name} characters (got {machine.Length}).");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (Guid.TryParse(machine, out var id))
        {
            var byId = await db.Machines.AsNoTracking().Where(m => m.Id == id)
                .Select(m => new MachineRef(m.Id, m.Name, m.RevokedAt)).FirstOrDefaultAsync(cancellationToken);
            if (byId is not null)
            {
                return byId;
            }
        }

        return await db.Machines.AsNoTracking().Where(m => m.Name == machine)
            .Select(m => new MachineRef(m.Id, m.Name, m.RevokedAt)).FirstOrDefaultAsync(cancellationToken);
    }
}
