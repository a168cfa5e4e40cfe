using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Postgres;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL server for the test run: the one named by <c>RELAY_TEST_POSTGRES</c> (a connection string whose user
/// may create databases), or else a throwaway cluster started with the product's own <see cref="EmbeddedPostgres"/>
/// in a temp directory. Each test class gets its own fresh, migrated database (<c>relay_test_&lt;random&gt;</c>);
/// all of them are dropped, and the throwaway cluster removed, when the run ends.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "RELAY_TEST_POSTGRES";

    private readonly Dictionary<Type, TestDatabase> _perClass = [];
    private readonly SemaphoreSlim _perClassGate = new(1, 1);
    private readonly ConcurrentBag<string> _created = [];
    private TempDirectory? _directory;
    private EmbeddedPostgres? _embedded;
    private string? _adminConnectionString;

    internal string AdminConnectionString =>
        _adminConnectionString ?? throw new InvalidOperationException("The PostgreSQL fixture has not been initialised.");

    public async Task InitializeAsync()
    {
        using var timeout = TestTimeout.Start();
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            _adminConnectionString = configured;
            return;
        }

        _directory = new TempDirectory("relay-test-pg-");
        _embedded = new EmbeddedPostgres(
            new EmbeddedPostgresOptions { DataDirectory = _directory.Path },
            NullLogger<EmbeddedPostgres>.Instance,
            TimeProvider.System);
        await _embedded.StartAsync(timeout.Token);
        _adminConnectionString = _embedded.GetConnectionString("postgres");
    }

    /// <summary>The migrated database of test class <typeparamref name="TTestClass"/>, created on first use.</summary>
    internal async Task<TestDatabase> DatabaseFor<TTestClass>()
    {
        await _perClassGate.WaitAsync();
        try
        {
            if (!_perClass.TryGetValue(typeof(TTestClass), out var database))
            {
                using var timeout = TestTimeout.Start();
                database = await CreateDatabaseAsync(migrate: true, timeout.Token);
                _perClass.Add(typeof(TTestClass), database);
            }

            return database;
        }
        finally
        {
            _perClassGate.Release();
        }
    }

    /// <summary>A new database, empty or with all migrations applied.</summary>
    internal async Task<TestDatabase> CreateDatabaseAsync(bool migrate, CancellationToken cancellationToken = default)
    {
        var name = "relay_test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        await using (var admin = new NpgsqlConnection(AdminConnectionString))
        {
            await admin.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        _created.Add(name);
        var database = new TestDatabase(new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString);
        if (migrate)
        {
            await using var db = database.CreateContext();
            await db.MigrateAsync(NullLogger.Instance, cancellationToken);
        }

        return database;
    }

    public async Task DisposeAsync()
    {
        using var timeout = TestTimeout.Start();
        foreach (var database in _perClass.Values)
        {
            await database.DisposeAsync();
        }

        _perClassGate.Dispose();

        if (_adminConnectionString is not null)
        {
            // Best effort: on the embedded cluster everything goes with its directory below, and on a shared server a
            // database left behind (a broker still closing its connections) must not turn a green run red.
            try
            {
                NpgsqlConnection.ClearAllPools();
                await using var admin = new NpgsqlConnection(_adminConnectionString);
                await admin.OpenAsync(timeout.Token);
                foreach (var name in _created)
                {
                    await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
                    await drop.ExecuteNonQueryAsync(timeout.Token);
                }
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine("PostgresFixture: could not drop the test databases: " + ex.Message);
            }
        }

        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
        }

        _directory?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
