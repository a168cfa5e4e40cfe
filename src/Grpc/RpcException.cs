namespace Relay.Grpc;

/// <summary>Thrown when a call ends with a status other than OK; thrown by handlers to end a call with a status.</summary>
public sealed class RpcException : Exception
{
    /// <summary>Creates an exception for <paramref name="status"/>.</summary>
    public RpcException(Status status)
        : this(status, Metadata.Empty, null)
    {
    }

    /// <summary>Creates an exception for <paramref name="status"/> with trailing metadata.</summary>
    public RpcException(Status status, Metadata trailers)
        : this(status, trailers, null)
    {
    }

    /// <summary>Creates an exception for <paramref name="status"/> with trailing metadata and a cause.</summary>
    public RpcException(Status status, Metadata trailers, Exception? innerException)
        : base(status.ToString(), innerException)
    {
        Status = status;
        Trailers = trailers;
    }

    /// <summary>The status of the call.</summary>
    public Status Status { get; }

    /// <summary>The status code of the call.</summary>
    public StatusCode StatusCode => Status.StatusCode;

    /// <summary>The trailing metadata the server sent (empty when the status was made locally).</summary>
    public Metadata Trailers { get; }
}
