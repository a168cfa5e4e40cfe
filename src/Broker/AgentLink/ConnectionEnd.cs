using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

/// <summary>Why an agent's stream ended; decides its last Notice and its final status.</summary>
internal enum ConnectionEndKind
{
    /// <summary>The agent half-closed its side: everything it sent is stored and acked, then the call ends OK.</summary>
    AgentClosed,

    /// <summary>The agent (or the network) reset the stream; nobody is left to tell.</summary>
    AgentGone,

    /// <summary>A newer stream for the machine took over.</summary>
    Replaced,

    /// <summary>Nothing heard from the agent for the peer timeout.</summary>
    DeadPeer,

    /// <summary>The broker is shutting down (graceful drain).</summary>
    ShuttingDown,

    /// <summary>The agent stopped reading and its bounded queue filled.</summary>
    SlowConsumer,

    /// <summary>The agent broke the protocol.</summary>
    ProtocolError,

    /// <summary>The machine credential was revoked.</summary>
    Revoked,

    /// <summary>The database or the broker failed; the agent reconnects and resumes.</summary>
    Failure,
}

/// <summary>The end of a stream: why, in words, and what the agent is told.</summary>
internal sealed record ConnectionEnd(ConnectionEndKind Kind, string Detail, StatusCode? Status = null)
{
    /// <summary>The machine was revoked through Admin: the agent is told why and how to come back.</summary>
    public static ConnectionEnd Revoked(string machineName) => new(ConnectionEndKind.Revoked,
        $"Machine '{machineName}' was revoked: its credential no longer works and its sessions have ended. Enrol the machine again (relayctl machines enroll) to reconnect.");

    /// <summary>The Notice{closing} that goes out before the stream ends; null when none can or need be sent.</summary>
    public Notice? ToNotice(TimeSpan retryAfter) => Kind switch
    {
        ConnectionEndKind.Replaced => Closing(ErrorCode.ConnectionReplaced),
        ConnectionEndKind.ShuttingDown => Closing(ErrorCode.ShuttingDown, retryAfter),
        ConnectionEndKind.SlowConsumer => Closing(ErrorCode.SlowConsumer),
        ConnectionEndKind.DeadPeer => Closing(ErrorCode.Timeout),
        ConnectionEndKind.ProtocolError => Closing(Status == StatusCode.ResourceExhausted ? ErrorCode.ResourceExhausted : ErrorCode.Protocol),
        ConnectionEndKind.Failure => Closing(ErrorCode.Unavailable, retryAfter),
        ConnectionEndKind.Revoked => Closing(ErrorCode.PermissionDenied),
        _ => null,
    };

    /// <summary>The call's final status; null ends the call OK.</summary>
    public RpcException? ToException() => Kind switch
    {
        ConnectionEndKind.AgentClosed => null,
        ConnectionEndKind.AgentGone => new RpcException(new Grpc.Status(StatusCode.Cancelled, Detail)),
        ConnectionEndKind.Replaced => new RpcException(new Grpc.Status(StatusCode.Aborted, Detail)),
        ConnectionEndKind.DeadPeer => new RpcException(new Grpc.Status(StatusCode.Unavailable, Detail)),
        ConnectionEndKind.ShuttingDown => new RpcException(new Grpc.Status(StatusCode.Unavailable, Detail)),
        ConnectionEndKind.SlowConsumer => new RpcException(new Grpc.Status(StatusCode.ResourceExhausted, Detail)),
        ConnectionEndKind.ProtocolError => new RpcException(new Grpc.Status(Status ?? StatusCode.InvalidArgument, Detail)),
        ConnectionEndKind.Revoked => new RpcException(new Grpc.Status(StatusCode.Unauthenticated, Detail)),
        _ => new RpcException(new Grpc.Status(Status ?? StatusCode.Unavailable, Detail)),
    };

    private Notice Closing(ErrorCode code, TimeSpan? retryAfter = null) => new()
    {
        Code = code,
        Message = Detail,
        Closing = true,
        RetryAfter = retryAfter is { } r ? Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(r) : null,
    };
}
