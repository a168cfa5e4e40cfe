using Microsoft.Extensions.Options;

namespace Relay.Broker.Persistence;

/// <summary>
/// Starts the database before anything else runs (the embedded cluster when no connection string is set), applies
/// migrations when configured to, and stops the embedded cluster last on shutdown. Register it before other hosted
/// services: hosts start them in registration order and stop them in reverse.
/// </summary>
internal sealed class DatabaseStartupService(
    RelayDatabase database,
    IServiceProvider services,
    IOptions<DatabaseOptions> options,
    ILogger<DatabaseStartupService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        PersistenceLog.DatabaseStarting(logger, database.IsEmbedded ? "embedded" : "configured");
        await database.StartAsync(cancellationToken);
        if (options.Value.MigrateOnStart)
        {
            await services.MigrateRelayDatabaseAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => database.StopAsync(cancellationToken);
}
