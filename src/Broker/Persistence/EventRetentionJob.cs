using Microsoft.Extensions.Options;
using Npgsql;

namespace Relay.Broker.Persistence;

/// <summary>
/// Deletes events received longer ago than <see cref="DatabaseOptions.EventRetention"/>, in batches so no statement holds
/// many row locks or writes a large WAL burst. Replaced by dropping whole partitions once events are partitioned
/// (docs/design/events-partitioning.md).
/// </summary>
internal sealed class EventRetentionJob(
    NpgsqlDataSource dataSource,
    IOptions<DatabaseOptions> options,
    TimeProvider timeProvider,
    ILogger<EventRetentionJob> logger)
{
    private const string DeleteBatch = """
        DELETE FROM events
        WHERE id IN (SELECT id FROM events WHERE received_at < $1 ORDER BY received_at LIMIT $2)
        """;

    /// <summary>Deletes every expired event, batch by batch. Returns how many were deleted; 0 when retention is off.</summary>
    public async Task<long> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        if (options.Value.EventRetention is not { } retention)
        {
            return 0;
        }

        var cutoff = timeProvider.GetUtcNow() - retention;
        var batchSize = options.Value.RetentionBatchSize;
        long total = 0;
        while (true)
        {
            await using var command = dataSource.CreateCommand(DeleteBatch);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = cutoff.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
            var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            if (deleted < batchSize)
            {
                break;
            }
        }

        if (total > 0)
        {
            PersistenceLog.RetentionDeleted(logger, total, cutoff);
        }

        return total;
    }
}
