using System.Diagnostics;
using System.Net.Http.Headers;
using Npgsql;
using Relay.Bench.Agents;
using Relay.Bench.Baseline;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>
/// The baseline: a number of HTTP clients, each POSTing one hook event at a time (as a hook does:
/// the next waits for the answer) to <see cref="BaselineServer"/>, which inserts and commits each one. Same machine,
/// same PostgreSQL, same payloads as the ingest scenarios.
/// </summary>
internal static class BaselineScenario
{
    public static async Task<Throughput> RunAsync(BrokerProcess broker, BaselineProcess server, int concurrency, TimeSpan warmup, TimeSpan duration, string prefix, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(server.Address), Timeout = TimeSpan.FromSeconds(30) };
        var media = new MediaTypeHeaderValue("application/json");
        var names = Enumerable.Range(0, concurrency).Select(i => $"{prefix}-{i:D5}").ToArray();
        var recording = false;
        var stored = new long[concurrency];
        var latencies = new List<long>[concurrency];
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
        {
            var events = new HookEvents(pid: 20_000 + i);
            var local = latencies[i] = [];
            for (long n = 0; !stop.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var content = new StringContent(events.RawJson(n));
                content.Headers.ContentType = media;
                using var response = await http.PostAsync($"events/{names[i]}?id={Guid.NewGuid():D}", content, CancellationToken.None);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ScenarioFailedException($"the baseline server answered {(int)response.StatusCode} {response.ReasonPhrase}");
                }

                Volatile.Write(ref stored[i], stored[i] + 1);
                if (Volatile.Read(ref recording))
                {
                    local.Add(Stopwatch.GetTimestamp() - started);
                }
            }
        }, CancellationToken.None)).ToList();

        await Task.Delay(warmup, cancellationToken);
        Volatile.Write(ref recording, true);
        var before = stored.Sum(s => Volatile.Read(ref s));
        var cpu = ProcessStats.CpuSeconds(server.Pid);
        var pg = broker.PostgresPid is { } pid ? ProcessStats.CpuSecondsWithChildren(pid) : (double?)null;
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration, cancellationToken);
        var events = stored.Sum(s => Volatile.Read(ref s)) - before;
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuUsed = ProcessStats.CpuSeconds(server.Pid) - cpu;
        var pgUsed = broker.PostgresPid is { } pid2 && pg is { } p ? ProcessStats.CpuSecondsWithChildren(pid2) - p : (double?)null;
        Volatile.Write(ref recording, false);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        // Every answered request is one stored row.
        await using var dataSource = NpgsqlDataSource.Create(broker.ConnectionString);
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {BaselineServer.Table} WHERE machine = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        var rows = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (rows != stored.Sum())
        {
            throw new ScenarioFailedException($"the baseline table holds {rows} events of the {stored.Sum()} acknowledged");
        }

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new Throughput(concurrency, events, seconds, all, cpuUsed, pgUsed);
    }
}
