using Npgsql;
using Relay.Broker.Persistence.Ingest;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// A transaction of the test's that holds the event-order lock, as a long agent batch of another stream does: every
/// writer of the event log waits for it. Disposing it rolls the transaction back and lets them go; disposing it again
/// does nothing, so a test may release it midway and still hold it in an <c>await using</c> (a failed assertion then
/// releases it too, instead of leaving the next test's handshake waiting for the lock).
/// </summary>
internal sealed record EventOrderLockHolder(NpgsqlConnection Connection, NpgsqlTransaction Transaction) : IAsyncDisposable
{
    public static async Task<EventOrderLockHolder> TakeAsync(TestDatabase database, CancellationToken cancellationToken)
    {
        var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction);
        take.Parameters.Add(new NpgsqlParameter<long> { TypedValue = EventIngestWriter.EventOrderLockKey });
        await take.ExecuteNonQueryAsync(cancellationToken);
        return new EventOrderLockHolder(connection, transaction);
    }

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
