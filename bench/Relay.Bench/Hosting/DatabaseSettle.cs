using System.Diagnostics;
using Npgsql;

namespace Relay.Bench.Hosting;

/// <summary>
/// Lets PostgreSQL finish what the scenarios before left it, so that a scenario measured at a fixed load (ack latency
/// at 10,000 events/s, the prompt round trip) is not charged for the backlog of the saturating ones before it: the
/// ingest scenarios store about a million events, after which the checkpointer spreads their dirty pages over minutes
/// and autovacuum works through the new rows, both on the disk and cores the next scenario measures.
/// </summary>
/// <remarks>
/// A VACUUM (ANALYZE) of the database first: it does now, and waits for, what autovacuum would otherwise start at its
/// next look (once a minute) and run through the measurement; waiting only for the autovacuum workers already running
/// left one running through a whole prompt-roundtrip (2026-11-22 17:20, p50 10.5 ms against 4.7 ms the run before).
/// Then a CHECKPOINT writes what the vacuum dirtied, and a last bounded wait covers a worker that started meanwhile.
/// </remarks>
internal static class DatabaseSettle
{
    private static readonly TimeSpan CheckpointTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan VacuumTimeout = TimeSpan.FromSeconds(300);
    private static readonly TimeSpan AutovacuumWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private const string AutovacuumWorkers = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'";

    /// <summary>
    /// A VACUUM (ANALYZE), a CHECKPOINT, then up to 30 s for running autovacuum workers to finish; returns what it did,
    /// for the log.
    /// </summary>
    public static async Task<string> RunAsync(BrokerProcess broker, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using var dataSource = NpgsqlDataSource.Create(broker.ConnectionString);
        // A table it may not vacuum (--database with a role that does not own them) is skipped with a warning.
        await using (var vacuumAll = dataSource.CreateCommand("VACUUM (ANALYZE)"))
        {
            vacuumAll.CommandTimeout = (int)VacuumTimeout.TotalSeconds;
            await vacuumAll.ExecuteNonQueryAsync(cancellationToken);
        }

        var vacuumed = clock.Elapsed;
        clock.Restart();
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
        return $"database settled: VACUUM (ANALYZE) {vacuumed.TotalSeconds:0.0} s, CHECKPOINT {checkpointed.TotalSeconds:0.0} s, {vacuum}";
    }
}
