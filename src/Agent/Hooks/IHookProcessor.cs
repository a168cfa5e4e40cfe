using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// The one path every hook takes inside the agent: parse, attribute (<see cref="Sessions.ISessionTracker"/>), spool
/// the HookEvent, answer (<see cref="IHookResponder"/>) within the answer bound. The http endpoint uses it for Claude
/// Code's http hooks; LocalAgent.Hook uses it for command hooks from <c>relay-agent hook</c>.
/// </summary>
internal interface IHookProcessor
{
    /// <summary>
    /// Processes a command hook. Throws <see cref="Relay.Grpc.RpcException"/> with INVALID_ARGUMENT when the payload is
    /// not a hook JSON object; answers an empty output (never an error) when the answer bound passes.
    /// </summary>
    ValueTask<HookResponse> ProcessCommandHookAsync(HookRequest request, CancellationToken cancellationToken);
}
