using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Relay.Grpc.Health;
using Relay.Grpc.Reflection;
using Relay.Grpc.Server.Internal;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Relay.Grpc;

/// <summary>The standard companion services: health checking and server reflection.</summary>
public static class GrpcServicesExtensions
{
    /// <summary>
    /// Adds the health service's status store (the server, <c>""</c>, starts SERVING) and turns every
    /// status to NOT_SERVING when the application starts stopping, so balancers drain it first.
    /// </summary>
    public static IServiceCollection AddGrpcHealth(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<HealthStatusStore>();
        services.TryAddSingleton<HealthService>();
        services.AddHostedService<HealthShutdownNotifier>();
        return services;
    }

    /// <summary>Adds server reflection (v1 and v1alpha).</summary>
    public static IServiceCollection AddGrpcReflection(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ReflectionService>();
        return services;
    }

    /// <summary>Maps <c>grpc.health.v1.Health</c>.</summary>
    public static IEndpointConventionBuilder MapGrpcHealthService(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGrpcService<HealthService>(HealthService.Bind);

    /// <summary>Maps <c>grpc.reflection.v1.ServerReflection</c> and <c>grpc.reflection.v1alpha.ServerReflection</c>.</summary>
    public static IEndpointConventionBuilder MapGrpcReflectionService(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var v1 = endpoints.MapGrpcService<ReflectionService>(ReflectionService.BindV1);
        var v1Alpha = endpoints.MapGrpcService<ReflectionService>(ReflectionService.BindV1Alpha);
        return new CompositeConventionBuilder([v1, v1Alpha]);
    }

    private sealed class HealthShutdownNotifier(HealthStatusStore store, IHostApplicationLifetime lifetime, GrpcServerLifetime? grpcLifetime = null) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            // Through the gRPC lifetime when there is one: NOT_SERVING must reach Watch streams before the
            // server tells those same streams to end.
            if (grpcLifetime is not null)
            {
                grpcLifetime.BeforeStopping(() => store.SetAll(ServingStatus.NotServing));
            }
            else
            {
                lifetime.ApplicationStopping.Register(() => store.SetAll(ServingStatus.NotServing));
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
