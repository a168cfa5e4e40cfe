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
            var configured = IsEmbedded ? embedded.ConnectionString : options.Value.ConnectionString;
            var builder = new NpgsqlConnectionStringBuilder(configured)
            {
                CommandTimeout = (int)Math.Ceiling(options.Value.CommandTimeout.TotalSeconds),
            };
            builder.ApplicationName ??= "relay-broker";
            if (!Names(configured, "maxautoprepare"))
            {
                // The ingest batch, the fence and the session lookups are the same few statements thousands of times a
                // second: prepared, PostgreSQL skips parsing and planning them (perf showed its parser and planner in
                // every batch). A connection string that says `Max Auto Prepare=0` (e.g. behind PgBouncer in
                // transaction mode on an old version) turns it off.
                builder.MaxAutoPrepare = 64;
            }

            if (!Names(configured, "noresetonclose"))
            {
                // The broker keeps no session state on a connection: its advisory locks are transaction-scoped, it never
                // LISTENs, SETs or creates temporary tables. Npgsql's reset on return to the pool (seven statements, as
                // it keeps prepared statements) ran every time a connection was reused, thirteen times per prompt.
                builder.NoResetOnClose = true;
            }

            return builder.ConnectionString;
        }
    }

    /// <summary>Whether the connection string sets the keyword (any spelling Npgsql accepts: spaces and case ignored).</summary>
    private static bool Names(string? connectionString, string keyword) =>
        new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys
            .Cast<string>()
            .Any(k => string.Equals(k.Replace(" ", string.Empty, StringComparison.Ordinal), keyword, StringComparison.OrdinalIgnoreCase));

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
