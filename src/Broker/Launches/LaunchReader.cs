using Microsoft.EntityFrameworkCore;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Launches;

/// <summary>Launches as relay.v1 messages, with the machine's name and who asked.</summary>
internal sealed class LaunchReader(IDbContextFactory<RelayDbContext> dbFactory)
{
    public async Task<Pb.Launch?> GetAsync(Guid id, CancellationToken cancellationToken) =>
        (await GetManyAsync([id], cancellationToken)).GetValueOrDefault(id);

    public async Task<Dictionary<Guid, Pb.Launch>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await (
            from l in db.Launches.AsNoTracking()
            where ids.Contains(l.Id)
            join m in db.Machines on l.MachineId equals m.Id
            select new { Launch = l, MachineName = m.Name }).ToListAsync(cancellationToken);
        var principals = await Principals.ResolveAsync(db, rows.Select(r => r.Launch.RequestedBy), cancellationToken);
        return rows.ToDictionary(r => r.Launch.Id, r => LaunchMapper.ToProto(r.Launch, r.MachineName, principals));
    }

    /// <summary>The launch that started a session, when Relay launched it.</summary>
    public async Task<Pb.Launch?> ForSessionAsync(Guid sessionId, Guid? launchId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var id = await db.Launches.AsNoTracking()
            .Where(l => l.RelaySessionId == sessionId || (launchId != null && l.Id == launchId))
            .OrderBy(l => l.CreatedAt)
            .Select(l => (Guid?)l.Id)
            .FirstOrDefaultAsync(cancellationToken);
        return id is { } found ? await GetAsync(found, cancellationToken) : null;
    }
}
