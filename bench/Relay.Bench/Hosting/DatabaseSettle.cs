using System.Diagnostics;
using Npgsql;

namespace Relay.Bench.Hosting;

/// <summary>
/// Lets PostgreSQL finish what the scenarios before left it, so that a scenario measured at a fixed load (ack latency
/// at 10,000 events/s, the prompt round trip) is not charged for the backlog of the saturating ones before it: the
/// ingest scenarios store about a million events, after which the checkpointer spreads their dirty pages over minutes
/// and autovacuum works through the new rows, both on the disk and cores the next scenario measures.
/// </summary>
internal static class DatabaseSettle
{
    private static readonly TimeSpan CheckpointTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan AutovacuumWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private const string AutovacuumWorkers = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'";

    /// <summary>A CHECKPOINT, then up to 30 s for running autovacuum workers to finish; returns what it did, for the log.</summary>
    public static async Task<string> RunAsync(BrokerProcess broker, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using var dataSource = NpgsqlDataSource.Create(broker.ConnectionString);
        try
        {
            await using (var checkpoint = dataSource.CreateCommand("CHECKPOINT"))
            {
                checkpoint.CommandTimeout = (int)CheckpointTimeout.TotalSeconds;
                await checkpoint.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // --database with a role that may not checkpoint (PostgreSQL 15: superuser or pg_checkpoint).
            return $"not settled: the bench's role may not CHECKPOINT ({ex.MessageText})";
        }

        var checkpointed = clock.Elapsed;
        clock.Restart();
        long workers;
        do
        {
            await using var count = dataSource.CreateCommand(AutovacuumWorkers);
            workers = await count.ExecuteScalarAsync(cancellationToken) is long n ? n : 0;
            if (workers == 0)
            {
                break;
            }

            await Task.Delay(Poll, cancellationToken);
        }
        while (clock.Elapsed < AutovacuumWait);

        var vacuum = workers == 0
            ? $"autovacuum idle after {clock.Elapsed.TotalSeconds:0.0} s"
            : $"{workers} autovacuum worker(s) still running after {AutovacuumWait.TotalSeconds:0} s";
        return $"database settled: CHECKPOINT {checkpointed.TotalSeconds:0.0} s, {vacuum}";
    }
}
