using Relay.Broker.Access;
using Relay.Broker.Launches;
using Relay.Broker.Queries;
using Relay.Broker.Validation;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Launch and stop (src/Broker/Launches).
internal sealed partial class AdminService
{
    public override Task<LaunchSessionResponse> LaunchSession(LaunchSessionRequest request, ServerCallContext context) =>
        Get<Launcher>().LaunchAsync(context.RequireRole(Role.Operator), request, context.CancellationToken);

    public override async Task<Launch> GetLaunch(GetLaunchRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        var key = Require.OptionalClientId(request.LaunchId, "launch_id")
            ?? throw AdminErrors.InvalidArgument("launch_id", "is required (the launch_id LaunchSession returned or was given).");
        var id = ClientIds.ToGuid("launch", key);
        return await Get<LaunchReader>().GetAsync(id, context.CancellationToken)
            ?? throw AdminErrors.NotFound($"no launch has the id '{key}'.");
    }

    public override Task<StopSessionResponse> StopSession(StopSessionRequest request, ServerCallContext context) =>
        Get<Stopper>().StopAsync(context.RequireRole(Role.Operator), request, context.CancellationToken);
}
