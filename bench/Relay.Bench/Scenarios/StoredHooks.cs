using System.Diagnostics;
using Npgsql;
using Relay.Bench.Agents;

namespace Relay.Bench.Scenarios;

/// <summary>What the broker's database holds of the hook events a scenario sent.</summary>
/// <param name="Rows">Hook events stored for the scenario's machines.</param>
/// <param name="Missing">Keys sent and not stored.</param>
/// <param name="Duplicated">Keys stored more than once.</param>
/// <param name="Unexpected">Stored keys that were never sent.</param>
/// <param name="Waited">How long it took until every sent event was stored (or the wait gave up).</param>
internal sealed record StoredCheck(long Rows, int Missing, int Duplicated, int Unexpected, TimeSpan Waited)
{
    public bool ExactlyOnce => Missing == 0 && Duplicated == 0 && Unexpected == 0;

    public override string ToString() =>
        $"{Rows} stored; {Missing} missing, {Duplicated} stored more than once, {Unexpected} never sent (after {Waited.TotalSeconds:0.0} s)";
}

/// <summary>Finds the hook events a scenario sent in the broker's <c>events</c> table by their keys (<see cref="ClaudeHookPayloads.KeyCountsSql"/>).</summary>
internal static class StoredHooks
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>Hook events stored so far for <paramref name="machines"/>.</summary>
    public static async Task<long> CountAsync(NpgsqlDataSource database, Guid[] machines, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT count(*) FROM events WHERE kind = 'hook' AND machine_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machines });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Waits (polling every 100 ms, at most <paramref name="timeout"/>) until <paramref name="machines"/> have at least as
    /// many hook events stored as keys were sent, then compares the stored keys with <paramref name="sent"/>.
    /// </summary>
    public static async Task<StoredCheck> WaitAndCheckAsync(
        string connectionString, Guid[] machines, IReadOnlyCollection<string> sent, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var database = NpgsqlDataSource.Create(connectionString);
        var clock = Stopwatch.StartNew();
        while (await CountAsync(database, machines, cancellationToken) < sent.Count && clock.Elapsed < timeout)
        {
            await Task.Delay(Poll, cancellationToken);
        }

        var waited = clock.Elapsed;
        await using var command = database.CreateCommand(
            ClaudeHookPayloads.KeyCountsSql);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machines });
        var stored = new Dictionary<string, long>(StringComparer.Ordinal);
        long rows = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var count = reader.GetInt64(1);
                stored[reader.IsDBNull(0) ? "(no key)" : reader.GetString(0)] = count;
                rows += count;
            }
        }

        var expected = sent.ToHashSet(StringComparer.Ordinal);
        return new StoredCheck(
            rows,
            expected.Count(k => !stored.ContainsKey(k)),
            stored.Count(s => s.Value > 1),
            stored.Keys.Count(k => !expected.Contains(k)),
            waited);
    }
}
