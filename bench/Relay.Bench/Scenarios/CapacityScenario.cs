using System.Diagnostics;
using Relay.Bench.Agents;
using Relay.Bench.Hosting;

namespace Relay.Bench.Scenarios;

/// <summary>
/// Opens <c>streams</c> agent streams (each on its own connection, as every machine has its own), lets them idle with
/// heartbeats, and measures what they cost the broker: resident memory per stream and CPU over an idle window.
/// </summary>
internal static class CapacityScenario
{
    private const int ConnectConcurrency = 32;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    public static async Task<Capacity> RunAsync(BrokerProcess broker, int streams, TimeSpan idle, string prefix, Action<string> progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var machines = await Enrolment.EnrollAsync(broker.Address, broker.AdminToken, prefix, streams, cancellationToken);
        progress($"enrolled {streams} machines in {clock.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(Settle, cancellationToken);
        var before = ProcessStats.ResidentBytes(broker.Pid);

        var load = machines.Select((m, i) => new LoadAgent(m, broker.Address, i)).ToList();
        try
        {
            clock.Restart();
            var opened = 0;
            try
            {
                await Parallel.ForEachAsync(load, new ParallelOptions { MaxDegreeOfParallelism = ConnectConcurrency, CancellationToken = cancellationToken }, async (agent, token) =>
                {
                    await agent.ConnectAsync(token);
                    var count = Interlocked.Increment(ref opened);
                    if (count % 1000 == 0)
                    {
                        progress($"{count} streams open");
                    }
                });
            }
            catch (Exception ex) when (OutOfDescriptors(ex))
            {
                throw new ScenarioFailedException(
                    $"ran out of file descriptors after {opened} streams (each stream holds one socket here and one in the broker). " +
                    $"Raise the limit (ulimit -n {Math.Max(2 * streams + 1024, 8192)}) or open fewer streams (--streams {Math.Max(1, opened - 100)}).", ex);
            }

            var connectSeconds = clock.Elapsed.TotalSeconds;
            progress($"{streams} streams open in {connectSeconds:0.0} s; idling {idle.TotalSeconds:0} s");
            await Task.Delay(Settle, cancellationToken);
            var cpu = ProcessStats.CpuSeconds(broker.Pid);
            var pg = broker.PostgresPid is { } pid ? ProcessStats.CpuSecondsWithChildren(pid) : (double?)null;
            clock.Restart();
            await Task.Delay(idle, cancellationToken);
            var seconds = clock.Elapsed.TotalSeconds;
            var cpuUsed = ProcessStats.CpuSeconds(broker.Pid) - cpu;
            var pgUsed = broker.PostgresPid is { } pid2 && pg is { } p ? ProcessStats.CpuSecondsWithChildren(pid2) - p : (double?)null;
            var after = ProcessStats.ResidentBytes(broker.Pid);

            var broken = load.Where(a => a.Failure is not null).ToList();
            if (broken.Count > 0)
            {
                var why = broker.Log().Split('\n').Where(l => l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)).TakeLast(12);
                throw new ScenarioFailedException($"{broken.Count} of {streams} idle streams broke, e.g. {broken[0].Failure}\nthe broker's last warnings:\n{string.Join('\n', why)}");
            }

            return new Capacity(streams, before, after, connectSeconds, seconds, cpuUsed, pgUsed);
        }
        finally
        {
            await Parallel.ForEachAsync(load, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (agent, _) => await agent.DisposeAsync());
        }
    }

    private static bool OutOfDescriptors(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex.Message.Contains("Too many open files", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (ex is AggregateException aggregate && aggregate.InnerExceptions.Any(OutOfDescriptors))
            {
                return true;
            }
        }

        return false;
    }
}
