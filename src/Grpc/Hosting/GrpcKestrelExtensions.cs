using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Relay.Grpc.Internal;

namespace Relay.Grpc;

/// <summary>Kestrel endpoints for gRPC: h2c on TCP, TLS with ALPN h2, or a Unix socket.</summary>
public static class GrpcKestrelExtensions
{
    /// <summary>
    /// Listens for gRPC on <paramref name="address"/>: <c>host:port</c> (HTTP/2 only; TLS with ALPN h2 when
    /// a certificate is given, cleartext h2c otherwise) or <c>unix:/path</c> (a stale socket file is removed).
    /// </summary>
    public static void ListenGrpc(this KestrelServerOptions options, string address, X509Certificate2? certificate = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parsed = GrpcAddress.Parse(address);
        void Configure(ListenOptions listen)
        {
            // HTTP/2 only: a cleartext Http1AndHttp2 endpoint would speak HTTP/1.1 alone.
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }

        if (parsed.UnixPath is { } path)
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }

            options.ListenUnixSocket(path, Configure);
            return;
        }

        if (parsed.ListenAddress is { } ip)
        {
            options.Listen(ip, parsed.Port, Configure);
        }
        else
        {
            options.ListenLocalhost(parsed.Port, Configure);
        }
    }
}
