namespace Relay.Grpc;

/// <summary>A unary method of <typeparamref name="TService"/>.</summary>
public delegate Task<TResponse> UnaryServerMethod<in TService, in TRequest, TResponse>(TService service, TRequest request, ServerCallContext context);

/// <summary>A client-streaming method of <typeparamref name="TService"/>.</summary>
public delegate Task<TResponse> ClientStreamingServerMethod<in TService, TRequest, TResponse>(TService service, IAsyncStreamReader<TRequest> requestStream, ServerCallContext context);

/// <summary>A server-streaming method of <typeparamref name="TService"/>.</summary>
public delegate Task ServerStreamingServerMethod<in TService, in TRequest, TResponse>(TService service, TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);

/// <summary>A bidirectional-streaming method of <typeparamref name="TService"/>.</summary>
public delegate Task DuplexStreamingServerMethod<in TService, TRequest, TResponse>(TService service, IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);

/// <summary>Names the static method that binds a service base class's methods: <c>static void Bind&lt;TService&gt;(ServiceBinder&lt;TService&gt;)</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true, AllowMultiple = false)]
public sealed class BindServiceMethodAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    public BindServiceMethodAttribute(Type bindType, string bindMethodName)
    {
        BindType = bindType;
        BindMethodName = bindMethodName;
    }

    /// <summary>The type that declares the bind method.</summary>
    public Type BindType { get; }

    /// <summary>The bind method's name.</summary>
    public string BindMethodName { get; }
}
