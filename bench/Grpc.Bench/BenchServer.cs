using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Relay.Grpc.Bench;

/// <summary>The methods of <c>relay.bench.Bench</c>, bound by hand (there is no generated client in this layer).</summary>
internal static class BenchMethods
{
    public const string ServiceName = "relay.bench.Bench";

    /// <summary>Request metadata that tells the server what a Duplex call does.</summary>
    public const string ModeHeader = "x-bench-mode";

    /// <summary>Request metadata: flush at least every this many messages (source-batch).</summary>
    public const string BatchHeader = "x-bench-batch";

    /// <summary>Request metadata: the longest a source stream may run, in seconds (a bound if the client vanishes).</summary>
    public const string SecondsHeader = "x-bench-seconds";

    public static readonly Marshaller<Ping> PingMarshaller = Marshallers.Protobuf(Ping.Parser);

    public static readonly Method<Ping, Ping> Unary = new(MethodType.Unary, ServiceName, "Unary", PingMarshaller, PingMarshaller);

    public static readonly Method<Ping, Ping> Duplex = new(MethodType.DuplexStreaming, ServiceName, "Duplex", PingMarshaller, PingMarshaller);
}

/// <summary>What a Duplex call does on the server.</summary>
internal enum DuplexMode
{
    /// <summary>Count the client's messages; answer with one Ping carrying the count at the end.</summary>
    Sink,

    /// <summary>Write as fast as possible, flushing every message, until the client half-closes.</summary>
    SourceFlush,

    /// <summary>Write as fast as possible through a queue, flushing every N messages or when the queue is empty.</summary>
    SourceBatch,

    /// <summary>Echo every message at once (ping-pong).</summary>
    Echo,
}

/// <summary>Server-side counters the measuring loop reads while a scenario runs (one stream at a time).</summary>
internal sealed class BenchState
{
    private long _received;

    public long Received => Volatile.Read(ref _received);

    public void Reset() => Volatile.Write(ref _received, 0);

    // Only the one reader of the sink stream writes it, so a plain volatile store is enough.
    public void SetReceived(long value) => Volatile.Write(ref _received, value);
}

/// <summary>The service under test.</summary>
internal sealed class BenchService(BenchState state)
{
    private const string Body = "heartbeat";

    public static void Bind(ServiceBinder<BenchService> binder)
    {
        binder.AddUnaryMethod(BenchMethods.Unary, static (service, request, context) => Task.FromResult(request));
        binder.AddDuplexStreamingMethod(BenchMethods.Duplex, static (service, requests, responses, context) => service.DuplexAsync(requests, responses, context));
    }

    private async Task DuplexAsync(IAsyncStreamReader<Ping> requests, IServerStreamWriter<Ping> responses, ServerCallContext context)
    {
        var headers = context.RequestHeaders;
        var mode = Enum.Parse<DuplexMode>(headers.GetValue(BenchMethods.ModeHeader) ?? nameof(DuplexMode.Echo), ignoreCase: true);
        var ct = context.CancellationToken;
        switch (mode)
        {
            case DuplexMode.Sink:
                await SinkAsync(requests, responses, ct).ConfigureAwait(false);
                break;
            case DuplexMode.Echo:
                // Passes the call's token, as a real service would; the layer must not allocate per message for it.
                while (await requests.MoveNext(ct).ConfigureAwait(false))
                {
                    await responses.WriteAsync(requests.Current, ct).ConfigureAwait(false);
                }

                break;
            default:
                var batch = int.TryParse(headers.GetValue(BenchMethods.BatchHeader), out var b) && b > 0 ? b : 64;
                var seconds = double.TryParse(headers.GetValue(BenchMethods.SecondsHeader), System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 60;
                await SourceAsync(requests, responses, mode == DuplexMode.SourceBatch ? batch : 1, TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
                break;
        }
    }

    private async Task SinkAsync(IAsyncStreamReader<Ping> requests, IServerStreamWriter<Ping> responses, CancellationToken ct)
    {
        state.Reset();
        long count = 0;
        while (await requests.MoveNext(ct).ConfigureAwait(false))
        {
            state.SetReceived(++count);
        }

        await responses.WriteAsync(new Ping { Seq = count, Body = Body }, ct).ConfigureAwait(false);
    }

    private static async Task SourceAsync(IAsyncStreamReader<Ping> requests, IServerStreamWriter<Ping> responses, int batch, TimeSpan limit, CancellationToken ct)
    {
        // The client half-closes to stop the source; the time limit bounds it if the client never does.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(limit);
        var stopWatcher = WatchForHalfCloseAsync(requests, stop, ct);
        try
        {
            if (batch <= 1)
            {
                var token = stop.Token;
                for (long seq = 0; seq < Pumps.MaxMessages && !token.IsCancellationRequested; seq++)
                {
                    await responses.WriteAsync(Pumps.NewPing(seq), ct).ConfigureAwait(false);
                }
            }
            else
            {
                await Pumps.ProduceAndPumpAsync(responses, batch, stop.Token, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await stopWatcher.ConfigureAwait(false);
        }
    }

    private static async Task WatchForHalfCloseAsync(IAsyncStreamReader<Ping> requests, CancellationTokenSource stop, CancellationToken ct)
    {
        try
        {
            while (await requests.MoveNext(ct).ConfigureAwait(false))
            {
                // The client sends nothing on a source stream; ignore anything it does send.
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException)
        {
            // The call ended under us; the writer sees the same and stops.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Message production shared by the client and server sides.</summary>
internal static class Pumps
{
    /// <summary>The upper bound of every streaming loop, whatever the duration.</summary>
    public const long MaxMessages = 2_000_000_000;

    private const string Body = "heartbeat";

    public static Ping NewPing(long seq) => new() { Seq = seq, SentTicks = System.Diagnostics.Stopwatch.GetTimestamp(), Body = Body };

    /// <summary>
    /// The agent link's pattern: a producer fills a bounded queue, one writer drains it and flushes every
    /// <paramref name="batch"/> messages or when the queue runs dry, so a burst becomes a few large writes
    /// while a lone message still goes out at once.
    /// </summary>
    public static async Task ProduceAndPumpAsync(IAsyncStreamWriter<Ping> writer, int batch, CancellationToken stop, CancellationToken ct)
    {
        var queue = Channel.CreateBounded<Ping>(new BoundedChannelOptions(1024)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var producer = ProduceAsync(queue.Writer, stop);
        try
        {
            await PumpAsync(writer, queue.Reader, batch, ct).ConfigureAwait(false);
        }
        finally
        {
            await producer.ConfigureAwait(false);
        }
    }

    private static async Task ProduceAsync(ChannelWriter<Ping> queue, CancellationToken stop)
    {
        // Yield first so the caller starts its pump before the producer runs.
        await Task.Yield();
        try
        {
            for (long seq = 0; seq < MaxMessages && !stop.IsCancellationRequested; seq++)
            {
                var ping = NewPing(seq);
                if (!queue.TryWrite(ping))
                {
                    await queue.WriteAsync(ping, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped while waiting for room in the queue.
        }
        finally
        {
            queue.TryComplete();
        }
    }

    private static async Task PumpAsync(IAsyncStreamWriter<Ping> writer, ChannelReader<Ping> queue, int batch, CancellationToken ct)
    {
        var pending = 0;
        while (await queue.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            while (queue.TryRead(out var ping))
            {
                pending++;
                var flush = pending >= batch || !queue.TryPeek(out _);
                writer.WriteOptions = flush ? WriteOptions.Default : WriteOptions.Buffered;
                await writer.WriteAsync(ping, ct).ConfigureAwait(false);
                if (flush)
                {
                    pending = 0;
                }
            }
        }
    }
}

/// <summary>Kestrel with the bench service, on loopback TCP and optionally a Unix socket.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BenchServer(WebApplication app, string tcpAddress, string? unixPath)
    {
        _app = app;
        TcpAddress = tcpAddress;
        UnixPath = unixPath;
    }

    public string TcpAddress { get; }

    public string? UnixPath { get; }

    public BenchState State => _app.Services.GetRequiredService<BenchState>();

    public static async Task<BenchServer> StartAsync(bool unix)
    {
        var unixPath = unix ? Path.Combine(Path.GetTempPath(), $"relay-grpc-bench-{Environment.ProcessId}.sock") : null;
        // The empty builder reads no appsettings files: the slim one would watch the working directory (the
        // whole repository under `make bench`) for changes, and other people's builds would wake it mid-run.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.ListenGrpc("127.0.0.1:0");
            if (unixPath is not null)
            {
                k.ListenGrpc("unix:" + unixPath);
            }
        });
        builder.Services.AddGrpcServer();
        builder.Services.AddSingleton<BenchState>();
        builder.Services.AddSingleton<BenchService>();
        var app = builder.Build();
        app.MapGrpcService<BenchService>(BenchService.Bind);
        await app.StartAsync().ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var tcp = addresses.First(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        return new BenchServer(app, tcp, unixPath);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (UnixPath is not null && File.Exists(UnixPath))
        {
            File.Delete(UnixPath);
        }
    }
}
