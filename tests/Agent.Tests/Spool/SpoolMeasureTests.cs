using System.Diagnostics;
using Relay.Broker.Tests.Infrastructure;
using Xunit.Abstractions;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

/// <summary>
/// Not a timed assertion: prints the spool's append throughput and latency with fsync, one producer and many (group
/// commit). A small load by default; <c>RELAY_MEASURE=1</c> runs the full one:
/// <c>RELAY_MEASURE=1 dotnet test tests/Agent.Tests -c Release --filter Category=Measure --logger "console;verbosity=detailed"</c>.
/// </summary>
[Trait("Category", "Measure")]
public sealed class SpoolMeasureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _directory = new("relay-spool-measure-");

    private static bool Full => Environment.GetEnvironmentVariable("RELAY_MEASURE") == "1";

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(64)]
    public async Task Measure_AppendWithFsync_PrintsThroughputAndLatency(int producers)
    {
        using var timeout = TestTimeout.Start();
        var perProducer = (Full ? 20_000 : 1_000) / producers;
        var directory = Path.Combine(_directory.Path, "p" + producers);
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        await using (var spool = Open(directory, segmentBytes: 8 * 1024 * 1024))
        {
            await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                var local = new List<double>(perProducer);
                for (var i = 0; i < perProducer; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    await spool.AppendAsync(Hook($"m{p}-{i}", padding: 400), timeout.Token);
                    local.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }

                lock (latencies)
                {
                    latencies.AddRange(local);
                }
            })));
            clock.Stop();
            spool.Stats.Items.Should().Be((ulong)(producers * perProducer));
        }

        latencies.Sort();
        var total = producers * perProducer;
        output.WriteLine(
            $"spool append with fsync, {producers} producer(s), {total} events of ~600 bytes ({(Full ? "full load" : "quick load; RELAY_MEASURE=1 for the full one")}): " +
            $"{total / clock.Elapsed.TotalSeconds:F0} events/s, p50 {Percentile(latencies, 0.50):F2} ms, p99 {Percentile(latencies, 0.99):F2} ms");
    }

    /// <summary>
    /// The http hook's pattern with a fast broker: one producer, each item acknowledged before the next is appended, so
    /// the segment written to is always fully acknowledged when the next item arrives.
    /// </summary>
    [Fact]
    public async Task Measure_AppendEachAckedBeforeTheNext_PrintsLatency()
    {
        using var timeout = TestTimeout.Start();
        var count = Full ? 5_000 : 500;
        var latencies = new List<double>(count);
        await using (var spool = Open(Path.Combine(_directory.Path, "acked"), segmentBytes: 8 * 1024 * 1024))
        {
            for (var i = 0; i < count; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var seq = await spool.AppendAsync(Hook("a" + i, padding: 400), timeout.Token);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await spool.AcknowledgeAsync(seq, timeout.Token);
            }

            spool.Stats.Items.Should().Be(0);
        }

        latencies.Sort();
        output.WriteLine(
            $"spool append, each acked before the next, {count} events of ~600 bytes: " +
            $"p50 {Percentile(latencies, 0.50):F3} ms, p99 {Percentile(latencies, 0.99):F3} ms, max {latencies[^1]:F3} ms");
    }

    public void Dispose() => _directory.Dispose();

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
