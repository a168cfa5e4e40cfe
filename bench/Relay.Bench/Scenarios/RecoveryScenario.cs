using System.Diagnostics;
using Npgsql;
using Relay.Bench.Agents;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>What the broker's restart under load cost.</summary>
/// <param name="Agents">relay-agent daemons fed hooks.</param>
/// <param name="OfferedRate">Hooks per second offered to them in total.</param>
/// <param name="DowntimeSeconds">From the SIGKILL to the restarted broker listening (its PostgreSQL recovered).</param>
/// <param name="PostedWhileDown">Hooks answered by the agents (spooled) in that time.</param>
/// <param name="ReconnectSeconds">From the broker listening again to the last agent holding a new stream in its database.</param>
/// <param name="ReconnectMedianSeconds">The same for the median agent.</param>
/// <param name="LongestBackoffSeconds">The longest reconnect delay an agent's backoff chose after the kill.</param>
/// <param name="DrainSeconds">From the broker listening again to every hook answered before then being stored.</param>
/// <param name="Posted">Hooks answered over the whole scenario.</param>
/// <param name="SlowestHookMs">The slowest hook answer over the whole scenario.</param>
/// <param name="Stored">What the broker's database holds of them at the end.</param>
internal sealed record RecoveryFigures(
    int Agents, double OfferedRate, double DowntimeSeconds, long PostedWhileDown, double ReconnectSeconds, double ReconnectMedianSeconds,
    double LongestBackoffSeconds, double DrainSeconds, long Posted,
    double SlowestHookMs, StoredCheck Stored);

/// <summary>
/// Real <c>relay-agent run</c> daemons, each fed Claude Code hook inputs through its http hook endpoint by a paced loop;
/// the broker is SIGKILLed mid-run, stays down a while (the agents answer every hook from their on-disk spools), and is
/// restarted on the same data directory (its PostgreSQL recovers). Measures how long until every agent holds a new
/// stream (the broker's <c>agent_link_state</c>: a connection id other than the one before the kill) and until every
/// spooled hook is stored; afterwards every hook answered must be in the database exactly once.
/// </summary>
internal static class RecoveryScenario
{
    private const int StartConcurrency = 4;
    private const int WarmupHooks = 20;
    private static readonly TimeSpan Before = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    public static async Task<RecoveryFigures> RunAsync(
        BrokerProcess broker, int agentCount, double rate, string prefix, Action<string> progress, CancellationToken cancellationToken)
    {
        var agents = new AgentProcess?[agentCount];
        try
        {
            var clock = Stopwatch.StartNew();
            await Parallel.ForAsync(0, agentCount, new ParallelOptions { MaxDegreeOfParallelism = StartConcurrency, CancellationToken = cancellationToken },
                async (i, token) => agents[i] = await AgentProcess.StartAsync(broker, $"{prefix}-{i:D3}", token));
            var started = agents.Select(a => a!).ToList();
            var machines = started.Select(a => a.MachineId).ToArray();
            progress($"recovery: {agentCount} relay-agent daemons enrolled, listening and connected in {clock.Elapsed.TotalSeconds:0.0} s");

            await using var database = NpgsqlDataSource.Create(broker.ConnectionString);
            using var stop = new CancellationTokenSource();
            var feeders = started.Select((a, i) => new Feeder(a, $"{prefix}-{i:D3}")).ToList();
            await Task.WhenAll(feeders.Select(f => f.WarmAsync(WarmupHooks, cancellationToken)));
            var loops = feeders.Select(f => Task.Run(() => f.RunAsync(rate / agentCount, stop.Token), CancellationToken.None)).ToList();
            try
            {
                await Task.Delay(Before, cancellationToken);
                ThrowIfBroken(loops);

                var streams = await StreamsAsync(database, machines, cancellationToken);
                var delaysBefore = started.Select(a => a.ReconnectDelays().Count).ToArray();
                await broker.KillAsync();
                var down = Stopwatch.StartNew();
                var postedAtKill = feeders.Sum(f => f.Posted);
                progress($"recovery: broker SIGKILLed with {Report.Count(postedAtKill)} hooks posted; the agents spool for {Outage.TotalSeconds:0} s");
                await Task.Delay(Outage, cancellationToken);
                ThrowIfBroken(loops);

                await broker.RestartAsync(cancellationToken);
                var downtime = down.Elapsed.TotalSeconds;
                var ready = Stopwatch.StartNew();
                var backlog = feeders.Select(f => f.Posted).ToArray();
                var postedWhileDown = backlog.Sum() - postedAtKill;
                progress($"recovery: broker listening again after {downtime:0.0} s down; {Report.Count(postedWhileDown)} hooks were posted meanwhile");

                var back = new Dictionary<Guid, double>();
                double? reconnect = null;
                double? drained = null;
                while ((reconnect is null || drained is null) && ready.Elapsed < RecoveryTimeout)
                {
                    ThrowIfBroken(loops);
                    try
                    {
                        if (reconnect is null)
                        {
                            foreach (var machine in await ReconnectedAsync(database, streams, cancellationToken))
                            {
                                back.TryAdd(machine, ready.Elapsed.TotalSeconds);
                            }

                            reconnect = back.Count == agentCount ? back.Values.Max() : null;
                        }

                        drained ??= await BacklogStoredAsync(database, machines, backlog, cancellationToken) ? ready.Elapsed.TotalSeconds : null;
                    }
                    catch (NpgsqlException)
                    {
                        // The restarted broker may still be taking its PostgreSQL over; ask again.
                    }

                    await Task.Delay(Poll, cancellationToken);
                }

                if (reconnect is null || drained is null)
                {
                    throw new ScenarioFailedException(
                        $"{RecoveryTimeout.TotalSeconds:0} s after the broker came back, {agentCount - back.Count} of {agentCount} agents had no new stream" +
                        (drained is null ? " and the spooled hooks were not all stored" : string.Empty) + $". First agent's log:\n{started[0].Log()}");
                }

                progress($"recovery: every agent back {reconnect:0.0} s after the broker was ready, the spooled backlog stored after {drained:0.0} s");
                await Task.Delay(After, cancellationToken);
                await stop.CancelAsync();
                await Task.WhenAll(loops);

                var sent = feeders.SelectMany(f => f.Sent).ToList();
                var stored = await StoredHooks.WaitAndCheckAsync(broker.ConnectionString, machines, sent, StoreTimeout, cancellationToken);
                if (!stored.ExactlyOnce)
                {
                    throw new ScenarioFailedException($"of {sent.Count} hooks answered by the agents, the broker's database holds: {stored}");
                }

                var longestBackoff = started.Select((a, i) => a.ReconnectDelays().Skip(delaysBefore[i]).DefaultIfEmpty().Max()).Max();
                var times = back.Values.Order().ToArray();
                return new RecoveryFigures(agentCount, rate, downtime, postedWhileDown, reconnect.Value, times[(times.Length - 1) / 2],
                    longestBackoff.TotalSeconds, drained.Value, sent.Count,
                    feeders.Max(f => f.SlowestMs), stored);
            }
            finally
            {
                await stop.CancelAsync();
                await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            await Task.WhenAll(agents.Where(a => a is not null).Select(a => a!.DisposeAsync().AsTask()));
        }
    }

    private static void ThrowIfBroken(List<Task> loops)
    {
        if (loops.FirstOrDefault(l => l.IsFaulted) is { } broken)
        {
            var ex = broken.Exception!.InnerException!;
            throw ex as ScenarioFailedException ?? new ScenarioFailedException($"a hook feeder broke: {ex.Message}", ex);
        }
    }

    /// <summary>Each machine's current stream (agent_link_state.connection_id).</summary>
    private static async Task<Dictionary<Guid, Guid?>> StreamsAsync(NpgsqlDataSource database, Guid[] machines, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT machine_id, connection_id FROM agent_link_state WHERE machine_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machines });
        var streams = new Dictionary<Guid, Guid?>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            streams[reader.GetGuid(0)] = reader.IsDBNull(1) ? null : reader.GetGuid(1);
        }

        return streams;
    }

    /// <summary>
    /// The machines holding a stream other than their stream before the kill, with a live lease. Leases written by the
    /// killed broker outlive it, so "online" alone would count agents that have not come back.
    /// </summary>
    private static async Task<List<Guid>> ReconnectedAsync(NpgsqlDataSource database, Dictionary<Guid, Guid?> before, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT machine_id, connection_id FROM agent_link_state WHERE machine_id = ANY($1) AND connection_id IS NOT NULL AND lease_expires_at > now()");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = before.Keys.ToArray() });
        var back = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.GetGuid(1) != before[reader.GetGuid(0)])
            {
                back.Add(reader.GetGuid(0));
            }
        }

        return back;
    }

    /// <summary>
    /// True when every machine has at least as many hook events stored as it had answered when the broker came back: an
    /// agent sends its spool in order, so that backlog is then stored (exactly once is checked at the end).
    /// </summary>
    private static async Task<bool> BacklogStoredAsync(NpgsqlDataSource database, Guid[] machines, long[] backlog, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT machine_id, count(*) FROM events WHERE kind = 'hook' AND machine_id = ANY($1) GROUP BY machine_id");
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = machines });
        var stored = new Dictionary<Guid, long>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                stored[reader.GetGuid(0)] = reader.GetInt64(1);
            }
        }

        return machines.Select((m, i) => stored.GetValueOrDefault(m) >= backlog[i]).All(b => b);
    }

    /// <summary>One Claude session's hooks, POSTed one at a time to one agent on a fixed schedule.</summary>
    private sealed class Feeder(AgentProcess agent, string keyPrefix)
    {
        private const int MaxHooks = 100_000;

        private readonly ClaudeHookPayloads _payloads = new(keyPrefix);
        private readonly List<string> _sent = [];
        private long _posted;
        private long _slowestTicks;

        /// <summary>Hooks answered so far.</summary>
        public long Posted => Interlocked.Read(ref _posted);

        public double SlowestMs => Interlocked.Read(ref _slowestTicks) * 1000.0 / Stopwatch.Frequency;

        /// <summary>The keys of the hooks answered (read after the loop ended).</summary>
        public IReadOnlyList<string> Sent => _sent;

        /// <summary>A few hooks unpaced, so that the first measured ones do not pay for the agent's and this client's cold start.</summary>
        public async Task WarmAsync(int count, CancellationToken cancellationToken)
        {
            using var http = HookHttpScenario.Client();
            for (var i = 0; i < count; i++)
            {
                await HookHttpScenario.PostAsync(http, agent, _payloads, _sent, cancellationToken);
                Interlocked.Increment(ref _posted);
            }
        }

        public async Task RunAsync(double rate, CancellationToken stop)
        {
            using var http = HookHttpScenario.Client();
            var interval = (long)(Stopwatch.Frequency / rate);
            var next = Stopwatch.GetTimestamp();
            try
            {
                while (!stop.IsCancellationRequested && _sent.Count < MaxHooks)
                {
                    // Paced, one hook at a time, as one Claude session fires them. After a slow answer the schedule moves on
                    // instead of catching up in a burst: the offered load stays at most the rate.
                    var now = Stopwatch.GetTimestamp();
                    if (next > now)
                    {
                        await Task.Delay(Stopwatch.GetElapsedTime(now, next), stop);
                    }
                    else if (now - next > Stopwatch.Frequency)
                    {
                        next = now;
                    }

                    next += interval;
                    var ticks = await HookHttpScenario.PostAsync(http, agent, _payloads, _sent, CancellationToken.None);
                    Interlocked.Increment(ref _posted);
                    if (ticks > Interlocked.Read(ref _slowestTicks))
                    {
                        Interlocked.Exchange(ref _slowestTicks, ticks);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Done.
            }
        }
    }
}
