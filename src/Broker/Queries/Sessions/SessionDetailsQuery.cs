using Microsoft.EntityFrameworkCore;
using Relay.Broker.Approvals;
using Relay.Broker.Launches;
using Relay.Broker.Persistence;
using Relay.Broker.Prompts;
using Relay.Broker.Queries.Selectors;
using Relay.Protocol.V1;

namespace Relay.Broker.Queries.Sessions;

/// <summary>GetSession: one session with its lineage, unfinished prompts, pending approvals and launch.</summary>
internal sealed class SessionDetailsQuery(
    SessionSelectorResolver resolver,
    IDbContextFactory<RelayDbContext> dbFactory,
    PromptReader prompts,
    ApprovalReader approvals,
    LaunchReader launches)
{
    // A session with more open items than this is stuck; the counts on Session still say how many.
    private const int MaxOpenItems = 200;

    public async Task<GetSessionResponse> GetAsync(GetSessionRequest request, CancellationToken cancellationToken)
    {
        var row = await resolver.ResolveAsync(request.Session, "session", cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var lineage = await db.SessionSegments.AsNoTracking().Where(s => s.RelaySessionId == row.Id).ToListAsync(cancellationToken);

        var response = new GetSessionResponse { Session = SessionMapper.ToProto(row, lineage) };
        response.OpenPrompts.AddRange(await prompts.OpenForSessionAsync(row.Id, MaxOpenItems, cancellationToken));
        response.PendingApprovals.AddRange(await approvals.PendingForSessionAsync(row.Id, MaxOpenItems, cancellationToken));
        response.Launch = await launches.ForSessionAsync(row.Id, row.LaunchId, cancellationToken);
        return response;
    }
}
