using Relay.Protocol.V1;

namespace Relay.Broker.Sessions;

/// <summary>
/// One sequenced agent message cannot be applied (it names another machine's session, an id is malformed, a field is
/// too long). The stream survives: the message is recorded as rejected, acked (so it is not retransmitted forever),
/// and the agent gets a Notice naming its seq. Thrown before the handler changes anything.
/// </summary>
internal sealed class MessageRejectedException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}
