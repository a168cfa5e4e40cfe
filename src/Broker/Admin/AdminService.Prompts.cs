using Relay.Broker.Access;
using Relay.Broker.Prompts;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Prompts: send and get (src/Broker/Prompts).
internal sealed partial class AdminService
{
    public override Task<SendPromptResponse> SendPrompt(SendPromptRequest request, ServerCallContext context) =>
        Get<PromptSender>().SendAsync(context.RequireRole(Role.Operator), request, context.CancellationToken);

    public override Task<GetPromptResponse> GetPrompt(GetPromptRequest request, ServerCallContext context) =>
        Get<PromptQuery>().GetAsync(context.RequireRole(Role.Viewer), request, context.CancellationToken);
}
