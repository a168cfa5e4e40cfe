using System.Diagnostics;

namespace Relay.Grpc.Bench;

/// <summary>What one run of one scenario measured.</summary>
internal sealed record Measurement(long Operations, double Seconds, double? P50Us, double? P99Us, long AllocatedBytes, double CpuSeconds, int Gen0, int Gen2)
{
    public double Rate => Operations / Seconds;

    public double BytesPerOperation => Operations == 0 ? 0 : (double)AllocatedBytes / Operations;

    /// <summary>Process CPU over wall time: 200 % is both cores of this machine busy.</summary>
    public double CpuPercent => CpuSeconds / Seconds * 100;

    /// <summary>Process CPU per message or call: steadier than the rate when other work shares the machine.</summary>
    public double CpuUsPerOperation => Operations == 0 ? double.NaN : CpuSeconds * 1_000_000 / Operations;
}

/// <summary>A count that one or more workers bump and the measuring loop reads.</summary>
internal sealed class Counter
{
    private long _value;

    public long Value => Volatile.Read(ref _value);

    public void Set(long value) => Volatile.Write(ref _value, value);

    public void Increment() => Interlocked.Increment(ref _value);
}

/// <summary>
/// The switch a scenario's workers watch: latency samples are kept only while <see cref="Measuring"/>
/// is set, and every loop ends when <see cref="Stop"/> fires.
/// </summary>
internal sealed class RunControl : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _measuring;

    public bool Measuring => _measuring;

    public CancellationToken Stop => _stop.Token;

    public bool Stopped => _stop.IsCancellationRequested;

    /// <summary>
    /// Waits out the warm-up, then measures <paramref name="duration"/> of <paramref name="count"/>,
    /// then tells the workers to stop.
    /// </summary>
    public async Task<(long Operations, double Seconds, long Allocated, double Cpu, int Gen0, int Gen2)> MeasureAsync(
        Func<long> count, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        using var process = Process.GetCurrentProcess();
        await Task.Delay(warmup, ct).ConfigureAwait(false);
        _measuring = true;
        var gen0 = GC.CollectionCount(0);
        var gen2 = GC.CollectionCount(2);
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var c0 = count();
        var t0 = Stopwatch.GetTimestamp();
        await Task.Delay(duration, ct).ConfigureAwait(false);
        var c1 = count();
        var elapsed = Stopwatch.GetElapsedTime(t0);
        _measuring = false;
        process.Refresh();
        var result = (c1 - c0, elapsed.TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - allocated,
            (process.TotalProcessorTime - cpu).TotalSeconds, GC.CollectionCount(0) - gen0, GC.CollectionCount(2) - gen2);
        await _stop.CancelAsync().ConfigureAwait(false);
        return result;
    }

    public void Dispose() => _stop.Dispose();
}

/// <summary>Round-trip times in Stopwatch ticks, kept in a preallocated array so recording never allocates.</summary>
internal sealed class LatencyRecorder(int capacity)
{
    private readonly long[] _ticks = new long[capacity];
    private int _count;

    public void Add(long ticks)
    {
        // Past capacity the samples are dropped; the count of operations is kept elsewhere.
        if (_count < _ticks.Length)
        {
            _ticks[_count++] = ticks;
        }
    }

    public static (double P50Us, double P99Us) Percentiles(IEnumerable<LatencyRecorder> recorders)
    {
        var all = recorders.SelectMany(r => r._ticks.Take(r._count)).ToArray();
        if (all.Length == 0)
        {
            return (double.NaN, double.NaN);
        }

        Array.Sort(all);
        return (ToMicroseconds(Rank(all, 0.50)), ToMicroseconds(Rank(all, 0.99)));
    }

    private static long Rank(long[] sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double ToMicroseconds(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
