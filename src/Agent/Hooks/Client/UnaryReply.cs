using Relay.Grpc;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// How a unary call ended: <see cref="StatusCode.OK"/> with the response message, or a status and a message saying what
/// went wrong (the server's <c>grpc-message</c>, or what the client saw: a refused connection, a broken frame, the deadline).
/// </summary>
internal sealed record UnaryReply(StatusCode Status, string Detail, byte[]? Message)
{
    public static UnaryReply Ok(byte[] message) => new(StatusCode.OK, string.Empty, message);

    public static UnaryReply Failed(StatusCode status, string detail) => new(status, detail, null);
}
