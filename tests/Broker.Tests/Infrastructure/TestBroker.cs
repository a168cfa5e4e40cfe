using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Broker.Hosting;
using Relay.Grpc;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// A real broker in the test process: Kestrel on a loopback port (h2c), the test class's own database,
/// every feature registered as in production. Clients talk to it over real sockets.
/// </summary>
internal sealed class TestBroker : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];
    private readonly TestDatabase? _database;
    private readonly bool _ownsDataDirectory;

    private TestBroker(WebApplication app, string address, TestDatabase? database, string dataDirectory, bool ownsDataDirectory)
    {
        _app = app;
        Address = address;
        _database = database;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
    }

    /// <summary>The broker's gRPC address, e.g. <c>127.0.0.1:41234</c>.</summary>
    public string Address { get; }

    public TestDatabase Database => _database ?? throw new InvalidOperationException("This broker runs its embedded PostgreSQL; it has no test database.");

    public string DataDirectory { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a broker on <paramref name="database"/>; <paramref name="settings"/> override configuration keys.</summary>
    public static async Task<TestBroker> StartAsync(
        TestDatabase database,
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("relay-broker-test-").FullName;
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Broker:Listen:0"] = "127.0.0.1:0",
            ["Broker:DataDirectory"] = dataDirectory,
            ["Database:ConnectionString"] = database.ConnectionString,
            ["Broker:ShutdownTimeout"] = "00:00:05",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return await StartCoreAsync(all, database, dataDirectory, ownsDataDirectory: true, configure, cancellationToken);
    }

    /// <summary>
    /// Starts a broker with no connection string, as `relay-broker run --data-dir` does: it runs its embedded PostgreSQL
    /// cluster under <paramref name="dataDirectory"/>/postgres and keeps admin.token there. The directory is the
    /// caller's: it outlives the broker, so a second broker can start on it.
    /// </summary>
    public static Task<TestBroker> StartEmbeddedAsync(string dataDirectory, CancellationToken cancellationToken = default)
    {
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Broker:Listen:0"] = "127.0.0.1:0",
            ["Broker:DataDirectory"] = dataDirectory,
            ["Database:ConnectionString"] = string.Empty, // also overrides a RELAY_DATABASE__CONNECTIONSTRING in the environment
            ["Database:Embedded:DataDirectory"] = dataDirectory,
            ["Broker:ShutdownTimeout"] = "00:00:05",
        };
        return StartCoreAsync(all, database: null, dataDirectory, ownsDataDirectory: false, configure: null, cancellationToken);
    }

    private static async Task<TestBroker> StartCoreAsync(
        Dictionary<string, string?> settings,
        TestDatabase? database,
        string dataDirectory,
        bool ownsDataDirectory,
        Action<WebApplicationBuilder>? configure,
        CancellationToken cancellationToken)
    {
        var app = BrokerApplication.Build(settings, builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            configure?.Invoke(builder);
        });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            // Stop what did start (an embedded cluster, for one) before reporting the failure.
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a))
            .Select(u => $"{u.Host}:{u.Port}")
            .First();
        return new TestBroker(app, address, database, dataDirectory, ownsDataDirectory);
    }

    /// <summary>A channel to the broker; every call carries <paramref name="bearerToken"/> when given.</summary>
    public GrpcChannel CreateChannel(string? bearerToken = null)
    {
        var options = new GrpcChannelOptions();
        if (bearerToken is not null)
        {
            options.Interceptors.Add(new BearerTokenInterceptor(bearerToken));
        }

        var channel = GrpcChannel.ForAddress(Address, options);
        _channels.Add(channel);
        return channel;
    }

    /// <summary>Stops the broker the way SIGTERM would (graceful drain).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        if (!_ownsDataDirectory)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory is harmless.
        }
    }

    private sealed class BearerTokenInterceptor(string token) : ClientInterceptor
    {
        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken)
        {
            context.Headers.Add("authorization", "Bearer " + token);
            return ValueTask.CompletedTask;
        }
    }
}
