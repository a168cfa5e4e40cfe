using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Relay.Grpc;

/// <summary>Options of a <see cref="GrpcChannel"/>.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>The largest response message accepted (RESOURCE_EXHAUSTED beyond). Default 4 MiB; null for no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>The largest request message sent (RESOURCE_EXHAUSTED beyond). Default: no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>Compress request messages with <c>gzip</c> or <c>deflate</c>. Default: none.</summary>
    public string? CompressionAlgorithm { get; set; }

    /// <summary>
    /// Trust anchors for the server's TLS certificate instead of the system store (a private CA).
    /// </summary>
    public X509Certificate2Collection? RootCertificates { get; set; }

    /// <summary>A client certificate for mutual TLS.</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// How long a connection may be idle before the client pings it. Default: off. Stay at or above
    /// 5 minutes against grpc-core/grpc-go servers, which answer faster pings with GOAWAY too_many_pings.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>How long to wait for a ping's acknowledgement before the connection is closed. Default 20 s.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Timeout of establishing a connection (TCP + TLS). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Interceptors run before every call, in order.</summary>
    public IList<ClientInterceptor> Interceptors { get; } = new List<ClientInterceptor>();

    /// <summary>
    /// A custom handler (tests, proxies). The channel then ignores the TLS, keepalive and socket options,
    /// and does not dispose the handler.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>Logs client-side events. Default: none.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock for deadlines.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
