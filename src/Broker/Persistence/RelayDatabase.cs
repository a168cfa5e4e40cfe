using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Postgres;

namespace Relay.Broker.Persistence;

/// <summary>
/// The broker's database endpoint: the configured server, or the embedded cluster (started by <see cref="StartAsync"/>).
/// Owns the <see cref="NpgsqlDataSource"/> that EF Core and the raw Npgsql paths share.
/// </summary>
internal sealed class RelayDatabase(
    IOptions<DatabaseOptions> options,
    EmbeddedPostgres embedded,
    ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private NpgsqlDataSource? _dataSource;

    public bool IsEmbedded => options.Value.UsesEmbeddedServer;

    /// <summary>The connection string in use; for the embedded cluster, only once it has started.</summary>
    public string ConnectionString
    {
        get
        {
            var builder = new NpgsqlConnectionStringBuilder(IsEmbedded ? embedded.ConnectionString : options.Value.ConnectionString)
            {
                CommandTimeout = (int)Math.Ceiling(options.Value.CommandTimeout.TotalSeconds),
            };
            builder.ApplicationName ??= "relay-broker";
            return builder.ConnectionString;
        }
    }

    /// <summary>The shared connection pool.</summary>
    public NpgsqlDataSource DataSource
    {
        get
        {
            lock (_lock)
            {
                return _dataSource ??= new NpgsqlDataSourceBuilder(ConnectionString)
                    .UseLoggerFactory(loggerFactory)
                    .Build();
            }
        }
    }

    /// <summary>Starts the embedded cluster when no connection string is configured; otherwise does nothing.</summary>
    public Task StartAsync(CancellationToken cancellationToken) =>
        IsEmbedded ? embedded.StartAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>Closes the pool and stops the embedded cluster, if any.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        NpgsqlDataSource? dataSource;
        lock (_lock)
        {
            dataSource = _dataSource;
            _dataSource = null;
        }

        if (dataSource is not null)
        {
            await dataSource.DisposeAsync();
        }

        if (IsEmbedded)
        {
            await embedded.StopAsync(cancellationToken);
        }
    }

    /// <summary>Stops what <see cref="StartAsync"/> started; the container disposes the embedded cluster itself.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
