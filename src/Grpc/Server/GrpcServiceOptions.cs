namespace Relay.Grpc;

/// <summary>Server-wide options of the gRPC layer.</summary>
public sealed class GrpcServiceOptions
{
    /// <summary>The largest request message accepted (RESOURCE_EXHAUSTED beyond). Default 4 MiB; null for no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>The largest response message sent (RESOURCE_EXHAUSTED beyond). Default: no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>When true, a handler exception's message is sent to the client with UNKNOWN. Keep off in production.</summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>Compress responses with this encoding (<c>gzip</c> or <c>deflate</c>) when the client accepts it. Default: none.</summary>
    public string? ResponseCompressionAlgorithm { get; set; }

    /// <summary>Interceptor types, resolved from DI (or created) once and run in order around every call.</summary>
    public IList<Type> Interceptors { get; } = new List<Type>();
}
