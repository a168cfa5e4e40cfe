using Relay.Broker.Access;
using Relay.Broker.Queries.History;
using Relay.Broker.Queries.Search;
using Relay.Broker.Queries.Sessions;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Sessions: list, get, rename, history, search (src/Broker/Queries).
internal sealed partial class AdminService
{
    public override Task<ListSessionsResponse> ListSessions(ListSessionsRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<SessionListQuery>().ListAsync(request, context.CancellationToken);
    }

    public override Task<GetSessionResponse> GetSession(GetSessionRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<SessionDetailsQuery>().GetAsync(request, context.CancellationToken);
    }

    public override Task<Session> UpdateSession(UpdateSessionRequest request, ServerCallContext context) =>
        Get<SessionRenamer>().UpdateAsync(context.RequireRole(Role.Operator), request, context.CancellationToken);

    public override Task<GetSessionHistoryResponse> GetSessionHistory(GetSessionHistoryRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<HistoryQuery>().GetAsync(request, context.CancellationToken);
    }

    public override Task<SearchSessionsResponse> SearchSessions(SearchSessionsRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<SearchQuery>().SearchAsync(request, context.CancellationToken);
    }
}
