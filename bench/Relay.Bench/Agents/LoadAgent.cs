using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.Link;
using Relay.Protocol.V1;

namespace Relay.Bench.Agents;

/// <summary>
/// A lean relay-agent stand-in for load: one AgentLink stream (its own HTTP/2 connection, as each real agent has),
/// Hello → Welcome, an empty SessionSnapshot, then hook events under the broker's receive window, heartbeats as
/// relay-agent sends them (each broker heartbeat answered, one of its own only when long quiet), and the time from
/// sending each event to the cumulative Ack that covers it. Nothing is spooled to disk: the broker's side is what is
/// measured.
/// </summary>
internal sealed class LoadAgent : IAsyncDisposable
{
    private const int MaxBurst = 64;

    private readonly EnrolledMachine _machine;
    private readonly GrpcChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly HookEvents _events;
    private readonly List<(long Due, long Latency)> _acks = [];
    private AsyncDuplexStreamingCall<AgentMessage, BrokerMessage>? _call;
    private SemaphoreSlim _window = new(0);
    private long[] _sentTicks = [];
    private long _mask;
    private long _nextSeq = 1;
    private long _acked;
    private long _lastWriteTicks;
    private TaskCompletionSource _ackChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _reader = Task.CompletedTask;
    private Task _heartbeats = Task.CompletedTask;
    private volatile bool _recording;
    private volatile string? _failure;

    public LoadAgent(EnrolledMachine machine, string address, int index)
    {
        _machine = machine;
        _channel = GrpcChannel.ForAddress(address);
        _events = new HookEvents(pid: 10_000 + index);
    }

    public EnrolledMachine Machine => _machine;

    /// <summary>Hook events sent (the first seq is the session snapshot).</summary>
    public long HooksSent => Volatile.Read(ref _nextSeq) - 2;

    /// <summary>Hook events the broker acked.</summary>
    public long HooksAcked => Math.Max(0, Volatile.Read(ref _acked) - 1);

    /// <summary>Why the stream broke, when it did.</summary>
    public string? Failure => _failure;

    /// <summary>Keep ack latencies while set.</summary>
    public bool Recording
    {
        get => _recording;
        set => _recording = value;
    }

    /// <summary>Connects (Hello → Welcome), reports no live sessions, and starts reading and heart-beating.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new Protocol.V1.AgentLink.AgentLinkClient(_channel);
        _call = client.ConnectAsync(new Metadata { { "authorization", "Bearer " + _machine.Credential } }, cancellationToken: _stop.Token);
        await WriteAsync(new AgentMessage
        {
            Hello = new Hello
            {
                MachineId = _machine.Id.ToString("D"),
                AgentVersion = "relay-bench",
                AgentInstanceId = Guid.NewGuid().ToString("N"),
                SpoolEpoch = Guid.NewGuid().ToString("N"),
                NextSeq = 1,
                Hostname = _machine.Name,
                Os = "linux-x64",
            },
        }, flush: true, cancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        if (!await _call.ResponseStream.MoveNext(timeout.Token) || _call.ResponseStream.Current.BodyCase != BrokerMessage.BodyOneofCase.Welcome)
        {
            throw new InvalidOperationException($"{_machine.Name}: the broker did not answer Hello with Welcome.");
        }

        var welcome = _call.ResponseStream.Current.Welcome;
        var window = (int)Math.Max(1, welcome.ReceiveWindow);
        var size = 1 << (int)Math.Ceiling(Math.Log2(window + 1));
        _sentTicks = new long[size];
        _mask = size - 1;
        _window = new SemaphoreSlim(window);
        _reader = Task.Run(ReadAsync, CancellationToken.None);
        _heartbeats = Task.Run(() => HeartbeatAsync(welcome.HeartbeatInterval?.ToTimeSpan() ?? TimeSpan.FromSeconds(15), welcome.PeerTimeout?.ToTimeSpan() ?? TimeSpan.FromSeconds(45)), CancellationToken.None);

        // Right after Welcome an agent reports its live sessions; this one has none yet.
        await _window.WaitAsync(cancellationToken);
        await SendAsync(new AgentMessage { Seq = NextSeq(Stopwatch.GetTimestamp()), SessionSnapshot = new SessionSnapshot { TakenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } }, flush: true, cancellationToken);
    }

    /// <summary>Sends hook events as fast as the receive window allows, in bursts of up to 64 per flush, until <paramref name="stop"/>.</summary>
    public async Task SaturateAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested && _failure is null)
            {
                await _window.WaitAsync(stop);
                var burst = 1;
                while (burst < MaxBurst && _window.Wait(0, CancellationToken.None))
                {
                    burst++;
                }

                var now = Stopwatch.GetTimestamp();
                for (var i = 0; i < burst; i++)
                {
                    await SendHookAsync(now, flush: i == burst - 1, CancellationToken.None);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Done.
        }
    }

    /// <summary>
    /// Offers <paramref name="rate"/> events/s on a fixed schedule until <paramref name="stop"/>. Latency counts from
    /// when each event was due, not when it went out, so a broker that holds the sender back is not flattered.
    /// </summary>
    public async Task PaceAsync(double rate, CancellationToken stop)
    {
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        try
        {
            while (!stop.IsCancellationRequested && _failure is null)
            {
                var elapsed = Stopwatch.GetTimestamp() - start;
                var due = (long)(elapsed * rate / Stopwatch.Frequency) - sent;
                if (due <= 0)
                {
                    var next = start + (long)((sent + 1) * Stopwatch.Frequency / rate);
                    var wait = TimeSpan.FromTicks(Math.Max(0, (next - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
                    await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, stop);
                    continue;
                }

                var burst = (int)Math.Min(due, MaxBurst);
                for (var i = 0; i < burst; i++)
                {
                    await _window.WaitAsync(stop);
                    // Event k is due at (k + 1) / rate: the moment `due` above first counts it. Timing it from k / rate
                    // charged every event one interval it never waited (10 ms at 100 events/s).
                    var intended = start + (long)((sent + i + 1) * Stopwatch.Frequency / rate);
                    await SendHookAsync(intended, flush: i == burst - 1, CancellationToken.None);
                }

                sent += burst;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Done.
        }
    }

    /// <summary>Waits until every event sent is acked; false when <paramref name="timeout"/> passed first or the stream broke.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref _acked) < Volatile.Read(ref _nextSeq) - 1)
        {
            var changed = Volatile.Read(ref _ackChanged).Task;
            if (Volatile.Read(ref _acked) >= Volatile.Read(ref _nextSeq) - 1)
            {
                break;
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero || _failure is not null)
            {
                return false;
            }

            await Task.WhenAny(changed, _reader, Task.Delay(left));
        }

        return true;
    }

    /// <summary>The acks recorded: when each event was due (Stopwatch timestamp) and its ack latency, in Stopwatch ticks.</summary>
    public IReadOnlyList<(long Due, long Latency)> Acks()
    {
        lock (_acks)
        {
            return [.. _acks];
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_call is { } call)
        {
            try
            {
                // Half-close as an agent that stops cleanly does; the broker ends the call.
                await _writeLock.WaitAsync();
                try
                {
                    await call.RequestStream.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(5));
                }
                finally
                {
                    _writeLock.Release();
                }

                await _reader.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException or TimeoutException or OperationCanceledException)
            {
                // Broken or slow: cancelling below ends it.
            }
        }

        await _stop.CancelAsync();
        await Task.WhenAll(_reader, _heartbeats).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _call?.Dispose();
        _channel.Dispose();
        _stop.Dispose();
        _writeLock.Dispose();
        _window.Dispose();
    }

    private ulong NextSeq(long sentTicks)
    {
        var seq = _nextSeq;
        _sentTicks[seq & _mask] = sentTicks;
        Volatile.Write(ref _nextSeq, seq + 1);
        return (ulong)seq;
    }

    private Task SendHookAsync(long sentTicks, bool flush, CancellationToken cancellationToken)
    {
        var index = _nextSeq - 2;
        return SendAsync(_events.Create(index, NextSeq(sentTicks)), flush, cancellationToken);
    }

    private async Task SendAsync(AgentMessage message, bool flush, CancellationToken cancellationToken)
    {
        try
        {
            await WriteAsync(message, flush, cancellationToken);
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
        {
            _failure ??= $"{_machine.Name}: the stream broke while sending: {ex.Message}";
            throw new OperationCanceledException(_failure, ex);
        }
    }

    private async Task WriteAsync(AgentMessage message, bool flush, CancellationToken cancellationToken)
    {
        var requests = _call!.RequestStream;
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            requests.WriteOptions = flush ? WriteOptions.Default : WriteOptions.Buffered;
            await requests.WriteAsync(message, cancellationToken);
            Volatile.Write(ref _lastWriteTicks, Stopwatch.GetTimestamp());
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadAsync()
    {
        var responses = _call!.ResponseStream;
        try
        {
            while (await responses.MoveNext(_stop.Token))
            {
                var message = responses.Current;
                switch (message.BodyCase)
                {
                    case BrokerMessage.BodyOneofCase.Ack:
                        OnAck((long)message.Ack.Seq);
                        break;
                    case BrokerMessage.BodyOneofCase.Heartbeat:
                        // As relay-agent does: the broker's heartbeat is answered at once (docs/broker.md, "Idle streams").
                        await WriteAsync(NewHeartbeat(), flush: true, _stop.Token);
                        break;
                    case BrokerMessage.BodyOneofCase.Notice when message.Notice.Closing:
                        _failure ??= $"{_machine.Name}: the broker closed the stream: {message.Notice.Code} {message.Notice.Message}";
                        break;
                    default:
                        if (message.Seq > 0)
                        {
                            // Nothing is expected here, but a sequenced broker message must be acked to keep the link healthy.
                            await WriteAsync(new AgentMessage { Ack = new Ack { Seq = message.Seq } }, flush: true, _stop.Token);
                        }

                        break;
                }
            }
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException or OperationCanceledException)
        {
            if (!_stop.IsCancellationRequested)
            {
                _failure ??= $"{_machine.Name}: the stream broke: {ex.Message}";
            }
        }
        finally
        {
            Interlocked.Exchange(ref _ackChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    private void OnAck(long seq)
    {
        var previous = Volatile.Read(ref _acked);
        if (seq <= previous)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        if (_recording)
        {
            lock (_acks)
            {
                for (var s = previous + 1; s <= seq; s++)
                {
                    var due = _sentTicks[s & _mask];
                    _acks.Add((due, now - due));
                }
            }
        }

        Volatile.Write(ref _acked, seq);
        _window.Release((int)(seq - previous));
        Interlocked.Exchange(ref _ackChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private static AgentMessage NewHeartbeat() =>
        new AgentMessage { Heartbeat = new Heartbeat { SentAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) } };

    private async Task HeartbeatAsync(TimeSpan interval, TimeSpan peerTimeout)
    {
        var quietLimit = AgentLinkLiveness.OwnHeartbeatAfter(interval, peerTimeout);
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(interval / 3, token);
                var quiet = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastWriteTicks));
                if (quiet >= quietLimit)
                {
                    await WriteAsync(NewHeartbeat(), flush: true, token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
            // Stopped, or the stream is gone (the reader reports that).
        }
    }
}
