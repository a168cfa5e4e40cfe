using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Grpc.Internal;
using Relay.Grpc.Server.Internal;

namespace Relay.Grpc;

/// <summary>Registers the gRPC server and maps services onto ASP.NET Core endpoints.</summary>
public static class GrpcServerExtensions
{
    /// <summary>Adds the gRPC server's services.</summary>
    public static IServiceCollection AddGrpcServer(this IServiceCollection services, Action<GrpcServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<GrpcServiceOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.MaxReceiveMessageSize is null or > 0, "GrpcServiceOptions.MaxReceiveMessageSize must be positive (or null for no limit).")
            .Validate(o => o.MaxSendMessageSize is null or > 0, "GrpcServiceOptions.MaxSendMessageSize must be positive (or null for no limit).")
            .Validate(o => o.ResponseCompressionAlgorithm is null or Compression.Gzip or Compression.Deflate,
                "GrpcServiceOptions.ResponseCompressionAlgorithm must be 'gzip', 'deflate' or null.")
            .Validate(o => o.Interceptors.All(t => typeof(ServerInterceptor).IsAssignableFrom(t)),
                "Every type in GrpcServiceOptions.Interceptors must derive from ServerInterceptor.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GrpcServiceRegistry>();
        services.TryAddSingleton(sp => new GrpcServerLifetime(sp.GetService<IHostApplicationLifetime>()));
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<GrpcServiceOptions>>().Value;
            var interceptors = o.Interceptors
                .Select(t => (ServerInterceptor)(sp.GetService(t) ?? ActivatorUtilities.CreateInstance(sp, t)))
                .ToArray();
            return new ServerCallHandlerOptions(
                o,
                interceptors,
                sp.GetRequiredService<GrpcServerLifetime>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Relay.Grpc.Server"));
        });
        services.Configure<KestrelServerOptions>(k => k.AddServerHeader = false);
        return services;
    }

    /// <summary>
    /// Maps <typeparamref name="TService"/>, whose base class names its bind method with
    /// <see cref="BindServiceMethodAttribute"/>. The service is resolved from DI per call when registered,
    /// otherwise created (and disposed) per call.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var attribute = typeof(TService).GetCustomAttribute<BindServiceMethodAttribute>(inherit: true)
            ?? throw new InvalidOperationException(
                $"{typeof(TService).Name} has no [BindServiceMethod] attribute; derive it from a generated service base class or pass a bind action.");
        var bindMethod = attribute.BindType.GetMethod(attribute.BindMethodName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"Bind method {attribute.BindType.Name}.{attribute.BindMethodName} was not found.");
        var generic = bindMethod.IsGenericMethodDefinition ? bindMethod.MakeGenericMethod(typeof(TService)) : bindMethod;
        return endpoints.MapGrpcService<TService>(binder => generic.Invoke(null, [binder]));
    }

    /// <summary>Maps <typeparamref name="TService"/> with an explicit bind action.</summary>
    public static IEndpointConventionBuilder MapGrpcService<TService>(this IEndpointRouteBuilder endpoints, Action<ServiceBinder<TService>> bind)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(bind);
        var sp = endpoints.ServiceProvider;
        var handlerOptions = sp.GetService<ServerCallHandlerOptions>()
            ?? throw new InvalidOperationException("Call services.AddGrpcServer() before mapping gRPC services.");
        var registry = sp.GetRequiredService<GrpcServiceRegistry>();

        var binder = new ServiceBinder<TService>();
        bind(binder);
        if (binder.Methods.Count == 0)
        {
            throw new InvalidOperationException($"The bind action for {typeof(TService).Name} added no methods.");
        }

        var builders = new List<IEndpointConventionBuilder>();
        foreach (var group in binder.Methods.GroupBy(m => m.ServiceName))
        {
            var names = group.Select(m => m.MethodName).ToArray();
            registry.Add(group.Key, names, binder.ServiceDescriptor);
            ServerLog.ServiceMapped(handlerOptions.Logger, group.Key, names.Length);
        }

        foreach (var registration in binder.Methods)
        {
            var handler = registration.CreateHandler(handlerOptions);
            builders.Add(endpoints.MapPost(registration.Path, handler.HandleCallAsync)
                .WithDisplayName("gRPC " + registration.Path));
        }

        MapUnimplemented(endpoints, registry, handlerOptions);
        return new CompositeConventionBuilder(builders);
    }

    private static void MapUnimplemented(IEndpointRouteBuilder endpoints, GrpcServiceRegistry registry, ServerCallHandlerOptions options)
    {
        if (registry.UnimplementedMapped)
        {
            return;
        }

        registry.UnimplementedMapped = true;
        endpoints.MapPost("{unimplementedService}/{unimplementedMethod}", context =>
        {
            if (!GrpcProtocol.IsGrpcContentType(context.Request.ContentType))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            var service = context.Request.RouteValues["unimplementedService"] as string ?? string.Empty;
            if (options.Logger.IsEnabled(LogLevel.Debug))
            {
                ServerLog.UnimplementedCall(options.Logger, context.Request.Path.Value ?? string.Empty);
            }
            context.Response.ContentType = GrpcProtocol.ContentType;
            context.Response.Headers[GrpcProtocol.StatusHeader] = "12";
            context.Response.Headers[GrpcProtocol.MessageHeader] = registry.IsKnownService(service)
                ? "Method is unimplemented."
                : "Service is unimplemented.";
            return Task.CompletedTask;
        }).WithDisplayName("gRPC unimplemented").WithOrder(int.MaxValue);
    }
}
