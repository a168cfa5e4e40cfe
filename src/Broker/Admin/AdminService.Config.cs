using Relay.Broker.Access;
using Relay.Broker.Briefings;
using Relay.Broker.Policy;
using Relay.Grpc;
using Relay.Protocol.V1;
using PolicyMessage = Relay.Protocol.V1.Policy;

namespace Relay.Broker.Admin;

// Standing briefings and the messaging policy.
internal sealed partial class AdminService
{
    public override Task<Briefing> SetBriefing(SetBriefingRequest request, ServerCallContext context) =>
        Get<BriefingStore>().SetAsync(context.RequireRole(Role.Operator), request.Name, request.Text, context.CancellationToken);

    public override Task<Briefing> GetBriefing(GetBriefingRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<BriefingStore>().GetAsync(request.Name, context.CancellationToken);
    }

    public override Task<ListBriefingsResponse> ListBriefings(ListBriefingsRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<BriefingStore>().ListAsync(request.PageSize, request.PageToken, context.CancellationToken);
    }

    public override async Task<DeleteBriefingResponse> DeleteBriefing(DeleteBriefingRequest request, ServerCallContext context)
    {
        await Get<BriefingStore>().DeleteAsync(context.RequireRole(Role.Operator), request.Name, context.CancellationToken);
        return new DeleteBriefingResponse();
    }

    public override Task<PolicyMessage> GetPolicy(GetPolicyRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<PolicyStore>().GetAsync(context.CancellationToken);
    }

    public override Task<PolicyMessage> SetPolicy(SetPolicyRequest request, ServerCallContext context) =>
        Get<PolicyStore>().SetAsync(context.RequireRole(Role.Admin), request.Policy, request.ExpectedEtag, context.CancellationToken);
}
