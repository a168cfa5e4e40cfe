using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Relay.Grpc.Client.Internal;
using Relay.Grpc.Internal;

namespace Relay.Grpc;

/// <summary>
/// A long-lived connection pool to one server: HTTP/2 with prior knowledge over TCP (h2c), TLS (ALPN h2)
/// or a Unix socket. Create one per server and share it; it is thread-safe.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    private readonly bool _disposeInvoker;
    private readonly CancellationTokenSource _disposed = new();

    private GrpcChannel(string target, Uri baseAddress, HttpMessageInvoker invoker, bool disposeInvoker, GrpcChannelOptions options)
    {
        Target = target;
        BaseAddress = baseAddress;
        Invoker = invoker;
        _disposeInvoker = disposeInvoker;
        Options = options;
        DisposedToken = _disposed.Token;
    }

    /// <summary>The address the channel was created for.</summary>
    public string Target { get; }

    internal Uri BaseAddress { get; }

    internal HttpMessageInvoker Invoker { get; }

    internal GrpcChannelOptions Options { get; }

    // Captured once: the source is disposed with the channel, and reading its Token afterwards would throw.
    internal CancellationToken DisposedToken { get; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Uri> _methodUris = new(StringComparer.Ordinal);

    internal Uri GetMethodUri(string path) => _methodUris.GetOrAdd(path, static (p, b) => new Uri(b, p), BaseAddress);

    /// <summary>
    /// Creates a channel for <paramref name="address"/>: <c>host:port</c> or <c>http://host:port</c> (h2c),
    /// <c>https://host:port</c> (TLS), or <c>unix:/abs/path</c>.
    /// </summary>
    public static GrpcChannel ForAddress(string address, GrpcChannelOptions? options = null)
    {
        options ??= new GrpcChannelOptions();
        var parsed = GrpcAddress.Parse(address);
        if (options.CompressionAlgorithm is not (null or Compression.Gzip or Compression.Deflate or GrpcProtocol.IdentityEncoding))
        {
            throw new ArgumentException($"CompressionAlgorithm '{options.CompressionAlgorithm}' is not supported; use gzip, deflate or null.", nameof(options));
        }

        var tls = parsed.Tls ?? false;
        var baseAddress = parsed.IsUnix
            ? new Uri("http://localhost")
            : new UriBuilder(tls ? "https" : "http", parsed.Host!.Contains(':', StringComparison.Ordinal) ? $"[{parsed.Host}]" : parsed.Host, parsed.Port).Uri;

        if (options.HttpHandler is { } custom)
        {
            return new GrpcChannel(address, baseAddress, new HttpMessageInvoker(custom, disposeHandler: false), disposeInvoker: true, options);
        }

        var handler = new SocketsHttpHandler
        {
            // More connections open once the server's concurrent-stream limit (100 in Kestrel) is reached.
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = options.ConnectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
        };

        if (parsed.UnixPath is { } path)
        {
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        if (tls)
        {
            handler.SslOptions = CreateSslOptions(options);
        }

        return new GrpcChannel(address, baseAddress, new HttpMessageInvoker(handler, disposeHandler: true), disposeInvoker: true, options);
    }

    /// <summary>Creates an invoker whose calls go through this channel.</summary>
    public CallInvoker CreateCallInvoker() => new GrpcCallInvoker(this);

    /// <summary>Closes the channel's connections; calls still running fail.</summary>
    public void Dispose()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        if (_disposeInvoker)
        {
            Invoker.Dispose();
        }

        _disposed.Dispose();
    }

    private static SslClientAuthenticationOptions CreateSslOptions(GrpcChannelOptions options)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            ApplicationProtocols = [SslApplicationProtocol.Http2],
        };
        if (options.ClientCertificate is { } clientCertificate)
        {
            ssl.ClientCertificates = [clientCertificate];
        }

        if (options.RootCertificates is { Count: > 0 } roots)
        {
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                // Name mismatches are still fatal; only the chain is checked against the private roots.
                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            };
        }

        return ssl;
    }
}
