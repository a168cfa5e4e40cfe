using Microsoft.Extensions.Logging;

namespace Relay.Grpc.Server.Internal;

/// <summary>What every call handler of a server shares.</summary>
internal sealed class ServerCallHandlerOptions(
    GrpcServiceOptions options,
    IReadOnlyList<ServerInterceptor> interceptors,
    GrpcServerLifetime lifetime,
    TimeProvider timeProvider,
    ILogger logger)
{
    public GrpcServiceOptions Options { get; } = options;

    public IReadOnlyList<ServerInterceptor> Interceptors { get; } = interceptors;

    public GrpcServerLifetime Lifetime { get; } = lifetime;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public ILogger Logger { get; } = logger;
}
