using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Audit;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Approvals;

/// <summary>Approvals as relay.v1 messages, with session, machine and decider names.</summary>
internal sealed class ApprovalReader(IDbContextFactory<RelayDbContext> dbFactory)
{
    public async Task<Dictionary<Guid, Pb.Approval>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await WithContext(db, db.Approvals.AsNoTracking().Where(a => ids.Contains(a.Id))).ToListAsync(cancellationToken);
        var list = await MapAsync(db, rows, cancellationToken);
        return list.ToDictionary(a => Guid.Parse(a.ApprovalId));
    }

    /// <summary>Approvals of a session waiting for a decision, oldest first.</summary>
    public async Task<List<Pb.Approval>> PendingForSessionAsync(Guid sessionId, int limit, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.Approvals.AsNoTracking()
            .Where(a => a.RelaySessionId == sessionId && a.Status == Db.ApprovalStatus.Pending)
            .OrderBy(a => a.CreatedAt).ThenBy(a => a.Id).Take(limit);
        return await MapAsync(db, await WithContext(db, query).ToListAsync(cancellationToken), cancellationToken);
    }

    internal static IQueryable<ApprovalWithContext> WithContext(RelayDbContext db, IQueryable<Db.Approval> approvals) =>
        from a in approvals
        join s in db.Sessions on a.RelaySessionId equals s.Id
        join m in db.Machines on s.MachineId equals m.Id
        select new ApprovalWithContext(a, s.Name, s.MachineId, m.Name);

    internal static async Task<List<Pb.Approval>> MapAsync(RelayDbContext db, IReadOnlyList<ApprovalWithContext> rows, CancellationToken cancellationToken)
    {
        var names = await Principals.ResolveAsync(db, rows.Select(r => r.Approval.DecidedBy).OfType<string>(), cancellationToken);
        return rows.Select(r => ApprovalMapper.ToProto(r.Approval, new ApprovalContext(r.SessionName, r.MachineId, r.MachineName), names)).ToList();
    }
}

internal sealed record ApprovalWithContext(Db.Approval Approval, string? SessionName, Guid MachineId, string MachineName);
