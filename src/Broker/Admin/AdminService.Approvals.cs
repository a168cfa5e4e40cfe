using Relay.Broker.Access;
using Relay.Broker.Approvals;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Approvals: list, get, decide (src/Broker/Approvals).
internal sealed partial class AdminService
{
    public override Task<ListApprovalsResponse> ListApprovals(ListApprovalsRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<ApprovalQueries>().ListAsync(request, context.CancellationToken);
    }

    public override Task<Approval> GetApproval(GetApprovalRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<ApprovalQueries>().GetAsync(request, context.CancellationToken);
    }

    public override Task<Approval> DecideApproval(DecideApprovalRequest request, ServerCallContext context) =>
        Get<ApprovalDecider>().DecideAsync(context.RequireRole(Role.Operator), request, context.CancellationToken);
}
