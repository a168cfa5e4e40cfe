using Npgsql;

namespace Relay.Broker.Postgres;

/// <summary>
/// A private PostgreSQL cluster under <c>&lt;data-dir&gt;/postgres</c>, started from the machine's server binaries and
/// reachable only through a Unix socket (no TCP). The first start initialises it; later starts reuse it with its data.
/// The broker uses it when no connection string is configured, and the test fixture uses it for a throwaway server.
/// </summary>
/// <remarks>
/// Layout: <c>postgres/data</c> is PGDATA, <c>postgres/run</c> the socket directory (or a private 0700 directory under
/// /tmp when that path is too long for a Unix socket), <c>postgres/postgres.log</c> the server log. When the broker
/// runs as root, the cluster belongs to, and the server runs as, <see cref="EmbeddedPostgresOptions.ServiceAccount"/>.
/// </remarks>
internal sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    internal const int Port = 5432;
    internal const string SuperUser = "postgres";

    private readonly EmbeddedPostgresOptions _options;
    private readonly ILogger<EmbeddedPostgres> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly PostgresBinaryLocator _locator;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private PostgresBinaries? _binaries;
    private string? _runAs;
    private bool _running;
    private int _disposed;

    public EmbeddedPostgres(
        EmbeddedPostgresOptions options,
        ILogger<EmbeddedPostgres> logger,
        TimeProvider timeProvider,
        PostgresBinaryLocator? locator = null)
    {
        _options = options;
        _logger = logger;
        _timeProvider = timeProvider;
        _locator = locator ?? PostgresBinaryLocator.Default;
        ClusterDirectory = Path.Combine(Path.GetFullPath(options.DataDirectory), "postgres");
        (SocketDirectory, _socketDirectoryIsFallback) = SocketDirectoryFor(ClusterDirectory);
    }

    /// <summary><c>&lt;data-dir&gt;/postgres</c>: the cluster, its socket directory and its log.</summary>
    public string ClusterDirectory { get; }

    /// <summary>PGDATA.</summary>
    public string DataPath => Path.Combine(ClusterDirectory, "data");

    /// <summary>The server log written by pg_ctl.</summary>
    public string LogPath => Path.Combine(ClusterDirectory, "postgres.log");

    public bool IsRunning => _running;

    /// <summary>
    /// The directory holding the server's Unix socket: <c>postgres/run</c>, or, when that path is too long for a Unix
    /// socket address, <c>/tmp/relay-pg-&lt;hash of the cluster path&gt;</c>. Fixed from construction, so connection
    /// strings (and pools) can be made before the server starts.
    /// </summary>
    public string SocketDirectory { get; }

    /// <summary>Connection string for the broker's database (<see cref="EmbeddedPostgresOptions.DatabaseName"/>).</summary>
    public string ConnectionString => GetConnectionString(_options.DatabaseName);

    /// <summary>Connection string for any database of the cluster, as its superuser, over the Unix socket.</summary>
    public string GetConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = SocketDirectory,
            Port = Port,
            Username = SuperUser,
            Database = database,
        }.ConnectionString;

    /// <summary>
    /// Initialises the cluster when it does not exist, starts the server, waits until it accepts connections and
    /// creates the broker's database. Bounded by <see cref="EmbeddedPostgresOptions.StartTimeout"/>.
    /// </summary>
    /// <exception cref="PostgresNotInstalledException">The server binaries are missing.</exception>
    /// <exception cref="EmbeddedPostgresException">The cluster could not be initialised or started.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_running)
            {
                return;
            }

            using var timeout = new CancellationTokenSource(_options.StartTimeout, _timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                await StartCoreAsync(linked.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                throw new EmbeddedPostgresException(
                    $"Embedded PostgreSQL in {DataPath} did not start within {_options.StartTimeout}. {LogTail()}", ex);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the server (fast shutdown, then immediate if that does not finish in time).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_running)
            {
                return;
            }

            LogStopping(DataPath);
            // Pooled connections to a stopped server are dead; a restarted server has the same connection string.
            NpgsqlConnection.ClearPool(new NpgsqlConnection(GetConnectionString("postgres")));
            NpgsqlConnection.ClearPool(new NpgsqlConnection(ConnectionString));
            await StopServerAsync(cancellationToken);
            _running = false;
            RemoveFallbackSocketDirectory();
            LogStopped(DataPath);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_options.StopTimeout * 2, _timeProvider);
        try
        {
            await StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            LogStopTimedOut(DataPath);
        }

        _gate.Dispose();
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var clusterVersion = ReadClusterVersion();
        _binaries = _locator.Locate(_options.BinDirectory, clusterVersion);
        LogBinaries(_binaries.BinDirectory);

        _runAs = UnixAccount.IsRoot() ? _options.ServiceAccount : null;
        if (_runAs is not null)
        {
            LogRunningAs(_runAs);
        }

        await PrepareClusterDirectoryAsync(cancellationToken);
        if (clusterVersion is null)
        {
            await InitialiseAsync(cancellationToken);
        }

        await PrepareSocketDirectoryAsync(cancellationToken);
        await WriteServerSettingsAsync(cancellationToken);
        await ClearLeftoverServerAsync(cancellationToken);
        await StartServerAsync(cancellationToken);
        _running = true;

        try
        {
            await WaitUntilReadyAsync(cancellationToken);
            await EnsureDatabaseAsync(_options.DatabaseName, cancellationToken);
        }
        catch
        {
            // Don't leave a server behind that nobody will stop.
            await StopServerAsync(CancellationToken.None);
            _running = false;
            throw;
        }

        LogStarted(DataPath, SocketDirectory);
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(GetConnectionString("postgres"))
        {
            Pooling = false,
            Timeout = 5,
        }.ConnectionString;

        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or IOException)
            {
                LogWaitingForServer(ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100), _timeProvider, cancellationToken);
            }
        }
    }

    private async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken)
    {
        var admin = new NpgsqlConnectionStringBuilder(GetConnectionString("postgres")) { Pooling = false };
        await using var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(cancellationToken);

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = database });
            if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return;
            }
        }

        var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
#pragma warning disable CA2100 // The identifier is validated (1-63 chars) and quoted; CREATE DATABASE takes no parameters.
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted} ENCODING 'UTF8'", connection);
#pragma warning restore CA2100
        await create.ExecuteNonQueryAsync(cancellationToken);
        LogCreatedDatabase(database);
    }

    private string LogTail()
    {
        try
        {
            var lines = File.ReadLines(LogPath).TakeLast(15).ToList();
            return lines.Count == 0 ? $"The server log {LogPath} is empty." : $"Last lines of {LogPath}:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"The server log {LogPath} could not be read ({ex.Message}).";
        }
    }
}
