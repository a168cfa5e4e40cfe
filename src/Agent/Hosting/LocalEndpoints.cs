using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Relay.Agent.Hosting;

/// <summary>
/// The daemon's two listeners: gRPC (HTTP/2) on the Unix socket with the peer-uid check, and the http hook endpoint
/// (HTTP/1.1) on 127.0.0.1. Once Kestrel has bound them the socket is made 0600; the hook port actually bound is
/// published for status and tests.
/// </summary>
// IServiceProvider, not IServer: Kestrel's options (which call Listen) are built while IServer is being constructed.
internal sealed partial class LocalEndpoints(LocalSocket socket, IServiceProvider services, ILogger<LocalEndpoints> logger) : IHostedLifecycleService
{
    /// <summary>The Unix socket path.</summary>
    public string SocketPath => socket.Path;

    /// <summary>The configured hook port (0 = any free port); set before the server starts.</summary>
    public int ConfiguredHookPort { get; set; }

    /// <summary>The bound hook port, once started.</summary>
    public int HookPort { get; private set; }

    /// <summary>The http hook URL, once started.</summary>
    public string HookUrl => "http://127.0.0.1:" + HookPort.ToString(System.Globalization.CultureInfo.InvariantCulture) + Hooks.HookEndpoint.Path;

    /// <summary>Adds both listeners to Kestrel.</summary>
    public void Listen(KestrelServerOptions kestrel)
    {
        // Not GrpcKestrelExtensions.ListenGrpc: that one deletes whatever is at the path, and the peer check must sit in
        // front of the connection. LocalSocket.Claim has already removed a stale socket (and refused a live one).
        kestrel.ListenUnixSocket(socket.Path, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.UsePeerCredentialCheck(UnixNative.EffectiveUserId(), logger);
        });
        kestrel.Listen(IPAddress.Loopback, ConfiguredHookPort, listen => listen.Protocols = HttpProtocols.Http1);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        socket.RestrictMode();
        const string loopback = "http://127.0.0.1:";
        var hookAddress = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault(a => a.StartsWith(loopback, StringComparison.Ordinal));
        HookPort = hookAddress is null ? ConfiguredHookPort : int.Parse(hookAddress.AsSpan(loopback.Length).TrimEnd('/'), System.Globalization.CultureInfo.InvariantCulture);
        Log.Listening(logger, socket.Path, HookUrl);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(50, LogLevel.Information, "relay-agent listening: gRPC on unix:{SocketPath}, http hooks on {HookUrl}")]
        public static partial void Listening(ILogger logger, string socketPath, string hookUrl);
    }
}
