using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

/// <summary>
/// A connection whose statement failed on the use that auto-prepares it (npgsql/npgsql#6391) is repaired before it is
/// used again. Every test runs on a pool of one connection, set as the broker sets its own (RelayDatabase), and checks
/// that each use got that same connection.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PreparedStatementRepairTests(PostgresFixture postgres)
{
    // Npgsql's default Auto Prepare Min Usages: the fifth use of a statement on a connection prepares it.
    private const int UsesBeforePrepared = 4;

    [Fact]
    public async Task NpgsqlBatch_FailsOnTheUseThatPreparesIt_NextUseOnTheConnectionSucceeds()
    {
        using var timeout = TestTimeout.Start();
        await using var pool = await OneConnectionAsync(repaired: true);
        for (var i = 0; i < UsesBeforePrepared; i++)
        {
            await pool.RunAsync("fine", timeout.Token);
        }

        var failed = () => pool.RunAsync("not\0text", timeout.Token);
        await failed.Should().ThrowAsync<PostgresException>().Where(e => e.SqlState == PostgresErrorCodes.CharacterNotInRepertoire);

        for (var i = 0; i < 3; i++)
        {
            (await pool.RunAsync("fine again", timeout.Token)).Should().Be("fine again");
        }

        pool.Connections.Should().ContainSingle("every use ran on the one connection the failure left behind");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EfCoreCommand_FailsOnTheUseThatPreparesIt_NextUseOnTheConnectionSucceeds(bool inTransaction)
    {
        using var timeout = TestTimeout.Start();
        await using var pool = await OneConnectionAsync(repaired: true);
        for (var i = 0; i < UsesBeforePrepared; i++)
        {
            await pool.RunEfAsync("fine", inTransaction, timeout.Token);
        }

        var failed = () => pool.RunEfAsync("not\0text", inTransaction, timeout.Token);
        await failed.Should().ThrowAsync<PostgresException>();

        for (var i = 0; i < 3; i++)
        {
            await pool.RunEfAsync("fine again", inTransaction, timeout.Token);
        }

        pool.Connections.Should().ContainSingle();
    }

    [Fact]
    public async Task NpgsqlBatch_FailsInASavepoint_RepairIfFailedLetsTheTransactionGoOn()
    {
        using var timeout = TestTimeout.Start();
        await using var pool = await OneConnectionAsync(repaired: true);
        for (var i = 0; i < UsesBeforePrepared; i++)
        {
            await pool.RunAsync("fine", timeout.Token);
        }

        await using var db = pool.CreateContext();
        await using var transaction = await db.Database.BeginTransactionAsync(timeout.Token);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var tx = (NpgsqlTransaction)transaction.GetDbTransaction();
        await tx.SaveAsync("batch", timeout.Token);
        var failed = () => Pool.BatchAsync(connection, tx, "not\0text", timeout.Token);
        await failed.Should().ThrowAsync<PostgresException>();
        await tx.RollbackAsync("batch", timeout.Token);

        pool.Repair.RepairIfFailed(connection);

        (await Pool.BatchAsync(connection, tx, "after the savepoint", timeout.Token)).Should().Be("after the savepoint");
        await transaction.CommitAsync(timeout.Token);
    }

    [Fact]
    public async Task NpgsqlBatch_FailsOnTheUseThatPreparesItWithoutRepair_NextUseFails()
    {
        // The bug this works around, as Npgsql has it. When this test fails, Npgsql fixed npgsql/npgsql#6391: check the
        // fix, and remove PreparedStatementRepair.
        using var timeout = TestTimeout.Start();
        await using var pool = await OneConnectionAsync(repaired: false);
        for (var i = 0; i < UsesBeforePrepared; i++)
        {
            await pool.RunAsync("fine", timeout.Token);
        }

        var failed = () => pool.RunAsync("not\0text", timeout.Token);
        await failed.Should().ThrowAsync<PostgresException>();

        var next = () => pool.RunAsync("fine again", timeout.Token);
        (await next.Should().ThrowAsync<Exception>()).Which.Message.Should().Contain("unexpected backend message DataRow");
    }

    private async Task<Pool> OneConnectionAsync(bool repaired)
    {
        var database = await postgres.DatabaseFor<PreparedStatementRepairTests>();
        var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            MaxAutoPrepare = 64,
            NoResetOnClose = true,
            MaxPoolSize = 1,
            ApplicationName = "prepared-statement-repair-" + Guid.NewGuid().ToString("N"),
        };
        return new Pool(NpgsqlDataSource.Create(settings.ConnectionString), repaired ? new PreparedStatementRepair(NullLogger.Instance) : null);
    }

    private sealed class Pool(NpgsqlDataSource dataSource, PreparedStatementRepair? repair) : IAsyncDisposable
    {
        // Pooled, as the broker makes its contexts.
        private readonly PooledDbContextFactory<RelayDbContext> _contexts = new(Options(dataSource, repair));

        public PreparedStatementRepair Repair => repair!;

        /// <summary>The server process of every connection used.</summary>
        public HashSet<int> Connections { get; } = [];

        public RelayDbContext CreateContext() => _contexts.CreateDbContext();

        /// <summary>A context, a transaction and one Npgsql batch (the event-order lock, then <paramref name="text"/> echoed), as the ingest runs them.</summary>
        public async Task<string> RunAsync(string text, CancellationToken cancellationToken)
        {
            await using var db = CreateContext();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            Connections.Add(connection.ProcessID);
            var echoed = await BatchAsync(connection, (NpgsqlTransaction)transaction.GetDbTransaction(), text, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return echoed;
        }

        /// <summary>
        /// The same statement through EF Core, in a transaction of its own or in the context's; each time the context
        /// opens and closes the connection itself, as the broker's contexts do.
        /// </summary>
        public async Task RunEfAsync(string text, bool inTransaction, CancellationToken cancellationToken)
        {
            await using var db = CreateContext();
            await using var transaction = inTransaction ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            connection.StateChange += (_, e) =>
            {
                if (e.CurrentState == System.Data.ConnectionState.Open)
                {
                    Connections.Add(connection.ProcessID);
                }
            };
            if (connection.State == System.Data.ConnectionState.Open)
            {
                Connections.Add(connection.ProcessID);
            }

            await db.Database.ExecuteSqlAsync($"SELECT {text}::text", cancellationToken);
            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken);
            }
        }

        private static DbContextOptions<RelayDbContext> Options(NpgsqlDataSource dataSource, PreparedStatementRepair? repair)
        {
            var builder = new DbContextOptionsBuilder<RelayDbContext>();
            if (repair is null)
            {
                builder.UseNpgsql(dataSource);
            }
            else
            {
                builder.UseRelayNpgsql(dataSource, repair);
            }

            return builder.Options;
        }

        public static async Task<string> BatchAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string text, CancellationToken cancellationToken)
        {
            await using var batch = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock($1)") { Parameters = { new NpgsqlParameter<long> { TypedValue = 6391 } } },
                    new NpgsqlBatchCommand("SELECT $1::text") { Parameters = { new NpgsqlParameter<string> { TypedValue = text } } },
                },
            };
            try
            {
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                await reader.NextResultAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                return reader.GetString(0);
            }
            catch (Exception ex) when (PreparedStatementRepair.Failing(connection, ex))
            {
                throw; // never: the filter only marks the connection
            }
        }

        public ValueTask DisposeAsync() => dataSource.DisposeAsync();
    }
}
