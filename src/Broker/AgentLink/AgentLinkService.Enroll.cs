using Relay.Broker.Machines;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

// Enroll: the one AgentLink call without a credential (rate-limited by the AccessInterceptor).
internal sealed partial class AgentLinkService
{
    public override Task<EnrollResponse> Enroll(EnrollRequest request, ServerCallContext context) =>
        Get<EnrollmentService>().EnrollAsync(request, context.Peer, context.CancellationToken);
}
