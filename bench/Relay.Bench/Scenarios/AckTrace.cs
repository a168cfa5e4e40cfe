using System.Diagnostics;
using System.Globalization;

namespace Relay.Bench.Scenarios;

/// <summary>
/// <c>--ack-trace</c>: every event ingest-10k-latency measured, in the order they were due, as
/// <c>agent due-ms latency-ms</c> (due time in ms after the first event's). The header names the first event's wall-clock
/// time, so a stall can be matched with PostgreSQL's log (<c>log_min_duration_statement</c>, <c>log_checkpoints</c>).
/// A p99 says how long the tail is; this says when it happened and whether every agent waited at once.
/// </summary>
internal static class AckTrace
{
    public static async Task WriteAsync(string path, IReadOnlyList<IReadOnlyList<(long Due, long Latency)>> acks, CancellationToken cancellationToken)
    {
        var rows = acks.SelectMany((agent, i) => agent.Select(a => (Agent: i, a.Due, a.Latency))).OrderBy(r => r.Due).ToList();
        var first = rows.Count > 0 ? rows[0].Due : Stopwatch.GetTimestamp();
        var firstWallClock = DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(first);
        var lines = new List<string>(rows.Count + 1) { $"# agent due-ms latency-ms; due-ms 0 = {firstWallClock:yyyy-MM-ddTHH:mm:ss.fffZ}" };
        lines.AddRange(rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Agent} {Milliseconds(r.Due - first):0.000} {Milliseconds(r.Latency):0.000}")));
        await File.WriteAllLinesAsync(path, lines, cancellationToken);
    }

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
