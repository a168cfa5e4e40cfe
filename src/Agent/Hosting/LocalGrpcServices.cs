using Relay.Grpc;

namespace Relay.Agent.Hosting;

/// <summary>A gRPC service the daemon serves on its Unix socket (LocalAgent); mapped by <see cref="AgentApplication"/>.</summary>
/// <param name="Map">Maps the service.</param>
internal sealed record LocalGrpcService(Action<IEndpointRouteBuilder> Map);

/// <summary>Registers gRPC services for the Unix socket.</summary>
internal static class LocalGrpcServiceCollectionExtensions
{
    /// <summary>
    /// Serves <typeparamref name="TService"/> (derived from a generated service base such as
    /// <c>LocalAgent.LocalAgentBase</c>) on the agent's Unix socket. The feature that owns the service registers it.
    /// </summary>
    public static IServiceCollection AddLocalGrpcService<TService>(this IServiceCollection services)
        where TService : class
    {
        services.AddSingleton(new LocalGrpcService(endpoints => endpoints.MapGrpcService<TService>()));
        return services;
    }
}
