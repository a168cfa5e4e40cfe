namespace Relay.Grpc;

/// <summary>What a client interceptor may see and change before a call starts.</summary>
public sealed class ClientCallContext
{
    internal ClientCallContext(string method, Metadata headers, DateTime? deadline)
    {
        Method = method;
        Headers = headers;
        Deadline = deadline;
    }

    /// <summary>The method's path, e.g. <c>/relay.v1.Admin/ListSessions</c>.</summary>
    public string Method { get; }

    /// <summary>The request metadata; interceptors add credentials or trace context here.</summary>
    public Metadata Headers { get; }

    /// <summary>The call's deadline, if any.</summary>
    public DateTime? Deadline { get; }
}

/// <summary>Runs before every call of a channel (credentials, trace context, logging).</summary>
public abstract class ClientInterceptor
{
    /// <summary>Called before the request is sent. Throw an <see cref="RpcException"/> to fail the call.</summary>
    public abstract ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken);
}
