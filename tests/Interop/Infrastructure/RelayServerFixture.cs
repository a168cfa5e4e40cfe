using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Grpc.Health;
using Relay.Interop.Tests.Service;
using Xunit.Abstractions;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Relay.Interop.Tests.Infrastructure;

/// <summary>
/// Relay's interop server: <c>grpc.testing.TestService</c>, health and reflection on Relay.Grpc, hosted
/// like production (WebApplication on Kestrel) on h2c 127.0.0.1 with an OS-chosen port and on a Unix
/// socket in a private temp folder. One per test class.
/// </summary>
public sealed class RelayServerFixture : IAsyncLifetime
{
    private readonly TestOutputLoggerProvider _log = new();
    private readonly Dictionary<Transport, string> _targets = [];
    private WebApplication? _app;
    private DirectoryInfo? _socketDir;

    /// <summary>Where the server's log goes; each test points it at its own output.</summary>
    public ITestOutputHelper? Output
    {
        get => _log.Output;
        set => _log.Output = value;
    }

    /// <summary>The address a client dials for <paramref name="transport"/>.</summary>
    public string Target(Transport transport) => _targets[transport];

    public async Task InitializeAsync()
    {
        _socketDir = Directory.CreateTempSubdirectory("relay-interop-");
        var socketPath = Path.Combine(_socketDir.FullName, "relay.sock");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(_log);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Relay", LogLevel.Debug);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenGrpc("127.0.0.1:0");
            kestrel.ListenGrpc("unix:" + socketPath);
        });
        builder.Services.AddGrpcServer();
        builder.Services.AddGrpcHealth();
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<TestServiceImpl>();

        var app = builder.Build();
        app.MapGrpcService<TestServiceImpl>(TestServiceImpl.Bind);
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();

        // As the stock interop servers do, report the test service itself as SERVING too.
        app.Services.GetRequiredService<HealthStatusStore>().SetStatus(TestServiceMethods.ServiceName, ServingStatus.Serving);

        _app = app;
        await app.StartAsync();

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("Kestrel exposes no IServerAddressesFeature.");
        var tcp = addresses
                .Select(a => Uri.TryCreate(a, UriKind.Absolute, out var uri) ? uri : null)
                .FirstOrDefault(u => u is { Host: "127.0.0.1", Port: > 0 })
            ?? throw new InvalidOperationException($"No 127.0.0.1 endpoint among the server's addresses: {string.Join(", ", addresses)}");
        _targets[Transport.Tcp] = "127.0.0.1:" + tcp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _targets[Transport.Unix] = "unix:" + socketPath;
    }

    public async Task DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;

            // Bounded: streams still open at this point are cut, never waited on for long.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(cts.Token);
            await app.DisposeAsync();
        }

        if (_socketDir is { Exists: true })
        {
            _socketDir.Delete(recursive: true);
        }

        _socketDir = null;
        _log.Dispose();
    }
}
