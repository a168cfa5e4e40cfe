using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

/// <summary>
/// Answers an agent's ToolCall (list_sessions, session_history, launch_session on behalf of a session). The broker
/// registers SessionTools/SessionToolHandler; a host without one answers calls with ERROR_CODE_UNAVAILABLE.
/// </summary>
internal interface IAgentToolHandler
{
    /// <param name="machine">The machine whose stream carried the call (the caller session runs on it).</param>
    /// <param name="call">The call; <see cref="ToolCall.Caller"/> is evidence of a session of <paramref name="machine"/>.</param>
    /// <param name="cancellationToken">Fires when the stream ends.</param>
    Task<ToolResult> HandleAsync(Sessions.MachineIdentity machine, ToolCall call, CancellationToken cancellationToken);
}
