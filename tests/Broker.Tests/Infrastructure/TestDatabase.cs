using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Broker.Persistence;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>One test database: a connection string, a pool, and a way to get a <see cref="RelayDbContext"/> on it.</summary>
internal sealed class TestDatabase(string connectionString) : IAsyncDisposable
{
    public string ConnectionString { get; } = connectionString;

    public NpgsqlDataSource DataSource { get; } = NpgsqlDataSource.Create(connectionString);

    public RelayDbContext CreateContext()
    {
        var builder = new DbContextOptionsBuilder<RelayDbContext>();
        builder.UseRelayNpgsql(DataSource, PreparedStatementRepair.Silent);
        return new RelayDbContext(builder.Options);
    }

    public async Task<T?> ScalarAsync<T>(string sql, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
