using System.Diagnostics;

namespace Relay.Bench.Scenarios;

/// <summary>Throughput and ack latency of one ingest (or baseline) run.</summary>
/// <param name="Concurrency">Agents (or HTTP clients) sending.</param>
/// <param name="Events">Events acked (committed) inside the measured window.</param>
/// <param name="Seconds">The measured window.</param>
/// <param name="Latencies">Ack (or response) latencies in Stopwatch ticks, sorted.</param>
/// <param name="ServerCpuSeconds">CPU of the broker (or baseline server) process over the window.</param>
/// <param name="PostgresCpuSeconds">CPU of PostgreSQL (postmaster and backends) over the window; null when it is not ours to see.</param>
/// <param name="OfferedRate">The paced load, when the run was paced.</param>
/// <param name="Commits">Transactions committed in the database over the window (pg_stat_database), when known.</param>
internal sealed record Throughput(int Concurrency, long Events, double Seconds, long[] Latencies, double ServerCpuSeconds, double? PostgresCpuSeconds, double? OfferedRate = null, long? Commits = null)
{
    /// <summary>
    /// Events per database transaction of any kind (the broker's batches, but also its watch-feed and outbox polls):
    /// a lower bound of the events per batch.
    /// </summary>
    public double? EventsPerTransaction => Commits is > 0 ? (double)Events / Commits : null;

    public double Rate => Events / Seconds;

    public double P50Ms => Percentile(0.50);

    public double P99Ms => Percentile(0.99);

    public double ServerCpuUsPerEvent => Events == 0 ? double.NaN : ServerCpuSeconds * 1e6 / Events;

    public double? PostgresCpuUsPerEvent => PostgresCpuSeconds is { } pg && Events > 0 ? pg * 1e6 / Events : null;

    private double Percentile(double quantile)
    {
        if (Latencies.Length == 0)
        {
            return double.NaN;
        }

        var rank = Math.Clamp((int)Math.Ceiling(quantile * Latencies.Length) - 1, 0, Latencies.Length - 1);
        return Latencies[rank] * 1000.0 / Stopwatch.Frequency;
    }
}

/// <summary>What holding many idle agent streams costs the broker.</summary>
/// <param name="Streams">Streams held open (each with its own connection).</param>
/// <param name="ResidentBefore">Broker RSS with the machines enrolled and no stream open.</param>
/// <param name="ResidentAfter">Broker RSS at the end of the idle window.</param>
/// <param name="ConnectSeconds">How long opening every stream (Hello → Welcome) took.</param>
/// <param name="IdleSeconds">The idle window.</param>
/// <param name="BrokerCpuSeconds">Broker CPU over the idle window.</param>
/// <param name="PostgresCpuSeconds">PostgreSQL CPU over the idle window, when it is the embedded one.</param>
internal sealed record Capacity(int Streams, long ResidentBefore, long ResidentAfter, double ConnectSeconds, double IdleSeconds, double BrokerCpuSeconds, double? PostgresCpuSeconds)
{
    public double BytesPerStream => (double)(ResidentAfter - ResidentBefore) / Streams;

    public double BrokerCpuPercent => BrokerCpuSeconds / IdleSeconds * 100;

    public double? PostgresCpuPercent => PostgresCpuSeconds / IdleSeconds * 100;
}

/// <summary>A scenario whose own checks failed (events lost, duplicated or never acked; a stream broke).</summary>
internal sealed class ScenarioFailedException(string message, Exception? inner = null) : Exception(message, inner);
