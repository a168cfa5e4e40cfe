namespace Relay.Grpc;

/// <summary>The shape of a method: how many messages go each way.</summary>
public enum MethodType
{
    /// <summary>One request, one response.</summary>
    Unary,
    /// <summary>A stream of requests, one response.</summary>
    ClientStreaming,
    /// <summary>One request, a stream of responses.</summary>
    ServerStreaming,
    /// <summary>A stream each way.</summary>
    DuplexStreaming,
}

/// <summary>A method's name, shape and marshallers, shared by servers and clients.</summary>
public sealed class Method<TRequest, TResponse>
{
    /// <summary>Creates a method description.</summary>
    public Method(MethodType type, string serviceName, string name, Marshaller<TRequest> requestMarshaller, Marshaller<TResponse> responseMarshaller)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Type = type;
        ServiceName = serviceName;
        Name = name;
        RequestMarshaller = requestMarshaller ?? throw new ArgumentNullException(nameof(requestMarshaller));
        ResponseMarshaller = responseMarshaller ?? throw new ArgumentNullException(nameof(responseMarshaller));
        FullName = "/" + serviceName + "/" + name;
    }

    /// <summary>The method's shape.</summary>
    public MethodType Type { get; }

    /// <summary>The fully-qualified service name, e.g. <c>relay.v1.Admin</c>.</summary>
    public string ServiceName { get; }

    /// <summary>The method name, e.g. <c>ListSessions</c>.</summary>
    public string Name { get; }

    /// <summary>The HTTP/2 path: <c>/service/method</c>.</summary>
    public string FullName { get; }

    /// <summary>The request marshaller.</summary>
    public Marshaller<TRequest> RequestMarshaller { get; }

    /// <summary>The response marshaller.</summary>
    public Marshaller<TResponse> ResponseMarshaller { get; }

    internal bool ClientStreams => Type is MethodType.ClientStreaming or MethodType.DuplexStreaming;

    internal bool ServerStreams => Type is MethodType.ServerStreaming or MethodType.DuplexStreaming;
}
