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

    private TestBroker(WebApplication app, string address, TestDatabase database, string dataDirectory)
    {
        _app = app;
        Address = address;
        Database = database;
        DataDirectory = dataDirectory;
    }

    /// <summary>The broker's gRPC address, e.g. <c>127.0.0.1:41234</c>.</summary>
    public string Address { get; }

    public TestDatabase Database { get; }

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

        var app = BrokerApplication.Build(all, builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            configure?.Invoke(builder);
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a))
            .Select(u => $"{u.Host}:{u.Port}")
            .First();
        return new TestBroker(app, address, database, dataDirectory);
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
