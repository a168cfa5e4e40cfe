namespace Relay.Grpc;

/// <summary>
/// Runs around every call of the server (authentication, logging, tracing). It sees the call's
/// metadata before the method runs and any exception the method throws; to refuse a call, throw an
/// <see cref="RpcException"/> instead of calling the continuation.
/// </summary>
public abstract class ServerInterceptor
{
    /// <summary>Intercepts one call.</summary>
    /// <param name="context">The call.</param>
    /// <param name="continuation">Runs the rest of the pipeline and the method.</param>
    public abstract Task InterceptAsync(ServerCallContext context, Func<ServerCallContext, Task> continuation);
}
