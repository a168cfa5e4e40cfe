using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Relay.Grpc.Tests.Infrastructure;

/// <summary>The socket a test server listens on (public: it is a theory parameter of public test classes).</summary>
public enum Transport
{
    Tcp,
    Unix,
}

/// <summary>How a <see cref="TestServer"/> is built.</summary>
internal sealed class TestServerOptions
{
    public Transport Transport { get; set; } = Transport.Tcp;

    /// <summary>Serve TLS (ALPN h2) with this certificate instead of h2c.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Also listen on a cleartext HTTP/1.1 endpoint (for the 426 test).</summary>
    public bool AddHttp1Endpoint { get; set; }

    public TesterHandlers Handlers { get; } = new();

    public Action<GrpcServiceOptions>? ConfigureGrpc { get; set; }

    public Action<IServiceCollection>? ConfigureServices { get; set; }

    /// <summary>Extra endpoints, e.g. hand-made responses for client edge cases.</summary>
    public Action<IEndpointRouteBuilder>? ConfigureEndpoints { get; set; }

    public bool AddHealth { get; set; }

    public bool AddReflection { get; set; }

    /// <summary>Bounds how long stopping the host may take when a test leaves calls open.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>A real Kestrel host on loopback TCP (port 0) or a Unix socket in a temp directory.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly string? _tempDirectory;
    private int _connections;
    private bool _stopped;

    private TestServer(TestServerOptions options, string? tempDirectory)
    {
        Options = options;
        _tempDirectory = tempDirectory;
    }

    public TestServerOptions Options { get; }

    public WebApplication App { get; private set; } = null!;

    /// <summary>The gRPC address for <see cref="GrpcChannel.ForAddress"/>.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The base URI of the gRPC endpoint for raw HTTP clients (TCP only).</summary>
    public Uri? BaseUri { get; private set; }

    /// <summary>The base URI of the HTTP/1.1 endpoint, when one was asked for.</summary>
    public Uri? Http1BaseUri { get; private set; }

    /// <summary>Connections Kestrel has accepted so far, on any endpoint.</summary>
    public int AcceptedConnections => Volatile.Read(ref _connections);

    public static async Task<TestServer> StartAsync(Action<TestServerOptions>? configure = null)
    {
        var options = new TestServerOptions();
        configure?.Invoke(options);
        string? temp = null;
        if (options.Transport == Transport.Unix)
        {
            // Unix socket paths are limited to ~108 bytes, so keep the directory short.
            temp = Directory.CreateTempSubdirectory("rgt").FullName;
        }

        var server = new TestServer(options, temp);
        try
        {
            await server.StartCoreAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    private async Task StartCoreAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Quiet by default; RELAY_GRPC_TEST_LOG=1 shows Kestrel's and the layer's debug logs when a test needs diagnosing.
        if (Environment.GetEnvironmentVariable("RELAY_GRPC_TEST_LOG") == "1")
        {
            builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Debug);
        }
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = Options.ShutdownTimeout);
        builder.Services.AddGrpcServer(o => Options.ConfigureGrpc?.Invoke(o));
        if (Options.AddHealth)
        {
            builder.Services.AddGrpcHealth();
        }

        if (Options.AddReflection)
        {
            builder.Services.AddGrpcReflection();
        }

        Options.ConfigureServices?.Invoke(builder.Services);
        if (Options.Certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        var grpcAddress = Options.Transport == Transport.Unix ? "unix:" + Path.Combine(_tempDirectory!, "s.sock") : "127.0.0.1:0";
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Applied to every endpoint configured after it, so each accepted connection is counted once.
            k.ConfigureEndpointDefaults(listen => listen.Use(next => context =>
            {
                Interlocked.Increment(ref _connections);
                return next(context);
            }));
            k.ListenGrpc(grpcAddress, Options.Certificate);
            if (Options.AddHttp1Endpoint)
            {
                k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
            }
        });

        App = builder.Build();
        App.MapGrpcService<TesterService>(binder => TesterService.Bind(binder, Options.Handlers));
        if (Options.AddHealth)
        {
            App.MapGrpcHealthService();
        }

        if (Options.AddReflection)
        {
            App.MapGrpcReflectionService();
        }

        Options.ConfigureEndpoints?.Invoke(App);
        await App.StartAsync().WaitAsync(Waits.Long);

        var addresses = App.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.ToList();
        if (Options.Transport == Transport.Unix)
        {
            Address = grpcAddress;
        }
        else
        {
            // Kestrel lists endpoints in the order they were configured: gRPC first.
            BaseUri = new Uri(addresses[0]);
            Address = BaseUri.GetLeftPart(UriPartial.Authority);
        }

        if (Options.AddHttp1Endpoint)
        {
            Http1BaseUri = new Uri(addresses[^1]);
        }
    }

    public T GetService<T>()
        where T : notnull => App.Services.GetRequiredService<T>();

    public GrpcChannel CreateChannel(GrpcChannelOptions? options = null) => GrpcChannel.ForAddress(Address, options);

    /// <summary>Stops the host (ApplicationStopping fires at once); idempotent.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await App.StopAsync().WaitAsync(Options.ShutdownTimeout + Waits.Long);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await StopAsync();
            await App.DisposeAsync();
        }

        if (_tempDirectory is not null)
        {
            Directory.Delete(_tempDirectory, recursive: true);
        }
    }
}
