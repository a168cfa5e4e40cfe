using Google.Protobuf.Reflection;
using Relay.Grpc.Server.Internal;

namespace Relay.Grpc;

/// <summary>Collects the methods of one service for mapping onto the server.</summary>
/// <typeparam name="TService">The service implementation type.</typeparam>
public sealed class ServiceBinder<TService>
    where TService : class
{
    private readonly List<ServerMethodRegistration<TService>> _methods = [];

    internal ServiceBinder()
    {
    }

    /// <summary>The protobuf description of the service, served by reflection when set.</summary>
    public ServiceDescriptor? ServiceDescriptor { get; set; }

    internal IReadOnlyList<ServerMethodRegistration<TService>> Methods => _methods;

    /// <summary>Adds a unary method.</summary>
    public void AddUnaryMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TService, TRequest, TResponse> handler) =>
        Add(method, MethodType.Unary, opts => new UnaryCallHandler<TService, TRequest, TResponse>(method, handler, opts));

    /// <summary>Adds a client-streaming method.</summary>
    public void AddClientStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TService, TRequest, TResponse> handler) =>
        Add(method, MethodType.ClientStreaming, opts => new ClientStreamingCallHandler<TService, TRequest, TResponse>(method, handler, opts));

    /// <summary>Adds a server-streaming method.</summary>
    public void AddServerStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TService, TRequest, TResponse> handler) =>
        Add(method, MethodType.ServerStreaming, opts => new ServerStreamingCallHandler<TService, TRequest, TResponse>(method, handler, opts));

    /// <summary>Adds a bidirectional-streaming method.</summary>
    public void AddDuplexStreamingMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TService, TRequest, TResponse> handler) =>
        Add(method, MethodType.DuplexStreaming, opts => new DuplexStreamingCallHandler<TService, TRequest, TResponse>(method, handler, opts));

    private void Add<TRequest, TResponse>(Method<TRequest, TResponse> method, MethodType expected, Func<ServerCallHandlerOptions, ServerCallHandler> factory)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (method.Type != expected)
        {
            throw new ArgumentException($"Method {method.FullName} is {method.Type}, not {expected}.", nameof(method));
        }

        _methods.Add(new ServerMethodRegistration<TService>(method.ServiceName, method.Name, method.FullName, factory));
    }
}
