using System.Diagnostics;
using System.Globalization;

namespace Relay.Grpc.Bench;

/// <summary>The settings every scenario shares.</summary>
internal sealed record BenchSettings(TimeSpan Warmup, TimeSpan Duration, int Batch)
{
    /// <summary>How long any one run may take before it is abandoned as hung.</summary>
    public TimeSpan Guard => Warmup + Duration + TimeSpan.FromSeconds(30);

    /// <summary>Latency samples kept per worker: enough for ~200k operations/s over the duration, within memory.</summary>
    public int SampleCapacity(int workers) =>
        (int)Math.Clamp(Duration.TotalSeconds * 200_000 / workers, 1024, 1 << 22);
}

/// <summary>One scenario: what it measures, and what it must reach.</summary>
internal sealed record Scenario(string Id, string Title, ScenarioKind Kind, double? Target, Func<CallInvoker, BenchServer, BenchSettings, Task<Measurement>> Run);

internal enum ScenarioKind
{
    /// <summary>Messages per second one way on one stream.</summary>
    Throughput,

    /// <summary>Round trips, one in flight: latency first.</summary>
    Latency,

    /// <summary>Unary calls per second, and their latency.</summary>
    Calls,
}

internal static class Scenarios
{
    public const double StreamTarget = 150_000;
    public const double UnaryTarget = 40_000;

    public static IReadOnlyList<Scenario> All(int batch) =>
    [
        new("c2s-flush", "bidi client→server, flush each message", ScenarioKind.Throughput, StreamTarget,
            (i, s, o) => ClientToServerAsync(i, s, o, batched: false)),
        new("c2s-batch", $"bidi client→server, batched (queue, flush every {batch} or when empty)", ScenarioKind.Throughput, StreamTarget,
            (i, s, o) => ClientToServerAsync(i, s, o, batched: true)),
        new("s2c-flush", "bidi server→client, flush each message", ScenarioKind.Throughput, StreamTarget,
            (i, s, o) => ServerToClientAsync(i, o, batched: false)),
        new("s2c-batch", $"bidi server→client, batched (queue, flush every {batch} or when empty)", ScenarioKind.Throughput, StreamTarget,
            (i, s, o) => ServerToClientAsync(i, o, batched: true)),
        new("pingpong", "bidi echo round trip, 1 in flight", ScenarioKind.Latency, null,
            (i, s, o) => PingPongAsync(i, o)),
        new("unary-64", "unary, 64 concurrent calls on one channel", ScenarioKind.Calls, UnaryTarget,
            (i, s, o) => UnaryAsync(i, o, 64)),
        new("unary-1", "unary, 1 call at a time", ScenarioKind.Calls, null,
            (i, s, o) => UnaryAsync(i, o, 1)),
    ];

    private static CallOptions DuplexOptions(DuplexMode mode, BenchSettings settings, CancellationToken ct) =>
        new(Headers:
            [
                new Metadata.Entry(BenchMethods.ModeHeader, mode.ToString()),
                new Metadata.Entry(BenchMethods.BatchHeader, settings.Batch.ToString(CultureInfo.InvariantCulture)),
                new Metadata.Entry(BenchMethods.SecondsHeader, settings.Guard.TotalSeconds.ToString(CultureInfo.InvariantCulture)),
            ],
            CancellationToken: ct);

    /// <summary>The client writes as fast as it can; the server's sink counts.</summary>
    private static async Task<Measurement> ClientToServerAsync(CallInvoker invoker, BenchServer server, BenchSettings settings, bool batched)
    {
        using var guard = new CancellationTokenSource(settings.Guard);
        var ct = guard.Token;
        using var control = new RunControl();
        using var call = invoker.AsyncDuplexStreamingCall(BenchMethods.Duplex, DuplexOptions(DuplexMode.Sink, settings, ct));
        var requests = call.RequestStream;

        // The same token as the call's, as an application would pass it.
        var writer = Task.Run(async () =>
        {
            long sent = 0;
            if (batched)
            {
                var counting = new CountingWriter(requests);
                await Pumps.ProduceAndPumpAsync(counting, settings.Batch, control.Stop, ct).ConfigureAwait(false);
                sent = counting.Count;
            }
            else
            {
                for (; sent < Pumps.MaxMessages && !control.Stopped; sent++)
                {
                    await requests.WriteAsync(Pumps.NewPing(sent), ct).ConfigureAwait(false);
                }
            }

            await requests.CompleteAsync().ConfigureAwait(false);
            return sent;
        }, ct);

        var state = server.State;
        var m = await control.MeasureAsync(() => state.Received, settings.Warmup, settings.Duration, ct).ConfigureAwait(false);
        var total = await writer.ConfigureAwait(false);
        if (!await call.ResponseStream.MoveNext(ct).ConfigureAwait(false) || call.ResponseStream.Current.Seq != total)
        {
            throw new InvalidOperationException($"The server counted {call.ResponseStream.Current?.Seq} messages; the client sent {total}.");
        }

        if (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
        {
            throw new InvalidOperationException("The sink sent more than its count.");
        }

        return new Measurement(m.Operations, m.Seconds, null, null, m.Allocated, m.Cpu, m.Gen0, m.Gen2);
    }

    /// <summary>The server writes as fast as it can until the client half-closes; the client counts.</summary>
    private static async Task<Measurement> ServerToClientAsync(CallInvoker invoker, BenchSettings settings, bool batched)
    {
        using var guard = new CancellationTokenSource(settings.Guard);
        var ct = guard.Token;
        using var control = new RunControl();
        using var call = invoker.AsyncDuplexStreamingCall(BenchMethods.Duplex,
            DuplexOptions(batched ? DuplexMode.SourceBatch : DuplexMode.SourceFlush, settings, ct));
        var received = new Counter();
        var responses = call.ResponseStream;
        var reader = Task.Run(async () =>
        {
            long n = 0;
            long expected = 0;
            while (n < Pumps.MaxMessages && await responses.MoveNext(ct).ConfigureAwait(false))
            {
                // Checks order and loss on the way: the server numbers its messages from 0.
                if (responses.Current.Seq != expected++)
                {
                    throw new InvalidOperationException($"Message {responses.Current.Seq} arrived where {expected - 1} was due.");
                }

                received.Set(++n);
            }

            return n;
        }, ct);

        var m = await control.MeasureAsync(() => received.Value, settings.Warmup, settings.Duration, ct).ConfigureAwait(false);
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        await reader.ConfigureAwait(false);
        return new Measurement(m.Operations, m.Seconds, null, null, m.Allocated, m.Cpu, m.Gen0, m.Gen2);
    }

    /// <summary>One message out, wait for its echo, repeat.</summary>
    private static async Task<Measurement> PingPongAsync(CallInvoker invoker, BenchSettings settings)
    {
        using var guard = new CancellationTokenSource(settings.Guard);
        var ct = guard.Token;
        using var control = new RunControl();
        using var call = invoker.AsyncDuplexStreamingCall(BenchMethods.Duplex, DuplexOptions(DuplexMode.Echo, settings, ct));
        var recorder = new LatencyRecorder(settings.SampleCapacity(1));
        var done = new Counter();
        var loop = Task.Run(async () =>
        {
            for (long seq = 0; seq < Pumps.MaxMessages && !control.Stopped; seq++)
            {
                var start = Stopwatch.GetTimestamp();
                await call.RequestStream.WriteAsync(Pumps.NewPing(seq), ct).ConfigureAwait(false);
                if (!await call.ResponseStream.MoveNext(ct).ConfigureAwait(false) || call.ResponseStream.Current.Seq != seq)
                {
                    throw new InvalidOperationException($"Echo of {seq} did not come back.");
                }

                if (control.Measuring)
                {
                    recorder.Add(Stopwatch.GetTimestamp() - start);
                }

                done.Set(seq + 1);
            }

            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
            {
                // Nothing is in flight; the stream just ends.
            }
        }, ct);

        var m = await control.MeasureAsync(() => done.Value, settings.Warmup, settings.Duration, ct).ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        var (p50, p99) = LatencyRecorder.Percentiles([recorder]);
        return new Measurement(m.Operations, m.Seconds, p50, p99, m.Allocated, m.Cpu, m.Gen0, m.Gen2);
    }

    /// <summary><paramref name="concurrency"/> workers, each making one unary call after another on the shared channel.</summary>
    private static async Task<Measurement> UnaryAsync(CallInvoker invoker, BenchSettings settings, int concurrency)
    {
        using var guard = new CancellationTokenSource(settings.Guard);
        var ct = guard.Token;
        using var control = new RunControl();
        var done = new Counter();
        var recorders = Enumerable.Range(0, concurrency).Select(_ => new LatencyRecorder(settings.SampleCapacity(concurrency))).ToArray();
        var workers = recorders.Select(recorder => Task.Run(async () =>
        {
            for (long seq = 0; seq < Pumps.MaxMessages && !control.Stopped; seq++)
            {
                var start = Stopwatch.GetTimestamp();
                using var call = invoker.AsyncUnaryCall(BenchMethods.Unary, new CallOptions(CancellationToken: ct), Pumps.NewPing(seq));
                var reply = await call.ResponseAsync.ConfigureAwait(false);
                if (reply.Seq != seq)
                {
                    throw new InvalidOperationException($"Unary reply {reply.Seq} for request {seq}.");
                }

                if (control.Measuring)
                {
                    recorder.Add(Stopwatch.GetTimestamp() - start);
                }

                done.Increment();
            }
        }, ct)).ToArray();

        var m = await control.MeasureAsync(() => done.Value, settings.Warmup, settings.Duration, ct).ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
        var (p50, p99) = LatencyRecorder.Percentiles(recorders);
        return new Measurement(m.Operations, m.Seconds, p50, p99, m.Allocated, m.Cpu, m.Gen0, m.Gen2);
    }

    /// <summary>Counts what the pump writes, so the sink's total can be checked against it.</summary>
    private sealed class CountingWriter(IAsyncStreamWriter<Ping> inner) : IAsyncStreamWriter<Ping>
    {
        public long Count { get; private set; }

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(Ping message, CancellationToken cancellationToken = default)
        {
            // Not async, so the wrapper adds no state machine per message; a failed write fails the run anyway.
            Count++;
            return inner.WriteAsync(message, cancellationToken);
        }
    }
}
