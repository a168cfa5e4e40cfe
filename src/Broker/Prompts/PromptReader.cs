using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>Prompts and their replies as relay.v1 messages, with the target session's name and machine.</summary>
internal sealed class PromptReader(IDbContextFactory<RelayDbContext> dbFactory)
{
    public async Task<Dictionary<Guid, Pb.Prompt>> GetManyAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.Prompts.AsNoTracking()
            .Where(p => ids.Contains(p.Id))
            .Join(db.Sessions, p => p.RelaySessionId, s => s.Id, (p, s) => new { Prompt = p, s.Name, s.MachineId })
            .ToListAsync(cancellationToken);
        return rows.ToDictionary(r => r.Prompt.Id, r => PromptMapper.ToProto(r.Prompt, r.Name, r.MachineId));
    }

    /// <summary>Prompts of a session that are not finished (queued, sent, delivered, seen), oldest first.</summary>
    public async Task<List<Pb.Prompt>> OpenForSessionAsync(Guid sessionId, int limit, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var open = new[] { Persistence.Entities.PromptStatus.Queued, Persistence.Entities.PromptStatus.Sent, Persistence.Entities.PromptStatus.Delivered, Persistence.Entities.PromptStatus.Seen };
        var rows = await db.Prompts.AsNoTracking()
            .Where(p => p.RelaySessionId == sessionId && open.Contains(p.Status))
            .OrderBy(p => p.CreatedAt).ThenBy(p => p.Id)
            .Take(limit)
            .Join(db.Sessions, p => p.RelaySessionId, s => s.Id, (p, s) => new { Prompt = p, s.Name, s.MachineId })
            .ToListAsync(cancellationToken);
        return rows.Select(r => PromptMapper.ToProto(r.Prompt, r.Name, r.MachineId)).ToList();
    }

    /// <summary>Replies naming the prompt, oldest first.</summary>
    public async Task<List<Pb.Reply>> RepliesAsync(Guid promptId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.Replies.AsNoTracking()
            .Where(r => r.PromptId == promptId)
            .OrderBy(r => r.CreatedAt).ThenBy(r => r.Id)
            .Join(db.Sessions, r => r.RelaySessionId, s => s.Id, (r, s) => new { Reply = r, s.Name, s.MachineId })
            .ToListAsync(cancellationToken);
        return rows.Select(r => PromptMapper.ToProto(r.Reply, r.Name, r.MachineId)).ToList();
    }
}
