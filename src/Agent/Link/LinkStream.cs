using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Config;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Link;

/// <summary>
/// One AgentLink.Connect stream, from Hello to its end. After the handshake five loops share it: the writer (the only
/// writer of the request stream, draining a bounded queue), the reader (acks, state, tool results, notices; sequenced
/// messages go to a bounded inbound queue), the processor (inbound batches → local side → durable position → one
/// cumulative Ack), the sender (spool → queue, within the broker's receive window) and liveness (a heartbeat of its own
/// when long quiet, dead peer); the reader answers each broker heartbeat at once.
/// Whichever ends first ends the stream; the link then reconnects.
/// </summary>
internal sealed partial class LinkStream : IAsyncDisposable
{
    private static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan DefaultPeerTimeout = TimeSpan.FromSeconds(45);

    private readonly BrokerLink _link;
    private readonly GrpcChannel _channel;
    private readonly AgentConfig _config;
    private readonly CancellationTokenSource _stop;
    private readonly Channel<AgentMessage> _outbound;
    private readonly Channel<BrokerMessage> _inbound;
    private readonly Queue<ulong> _inFlight = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _windowOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AsyncDuplexStreamingCall<AgentMessage, BrokerMessage>? _call;
    private LinkPosition _position;
    private long _lastHeardTicks;
    private long _lastSentTicks;
    private int _window;
    private TimeSpan _heartbeatInterval = DefaultHeartbeat;
    private TimeSpan _peerTimeout = DefaultPeerTimeout;
    private string? _endReason;
    private TimeSpan? _retryAfter;
    private bool _credentialRefused;

    public LinkStream(BrokerLink link, GrpcChannel channel, AgentConfig config, CancellationToken stoppingToken)
    {
        _link = link;
        _channel = channel;
        _config = config;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        _position = LinkPosition.Load(link.StateDirectory);
        var options = link.Options;
        // Room for a full window of spooled messages plus acks, heartbeats and tool calls. A producer that finds the writer
        // waiting runs it on its own thread (synchronous continuations) until the writer waits again: the hook the spool
        // just wrote reaches the request stream without waking another thread (docs/agent.md, "CPU per hook").
        _outbound = Channel.CreateBounded<AgentMessage>(new BoundedChannelOptions(options.SendBatch + 256)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = true,
        });
        // The broker keeps at most our receive window unacked in flight, plus a few unsequenced messages.
        _inbound = Channel.CreateBounded<BrokerMessage>(new BoundedChannelOptions(options.ReceiveWindow + 64)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    private TimeProvider Time => _link.Time;

    private ILogger Logger => _link.Logger;

    private DateTimeOffset LastHeard
    {
        get => new(Volatile.Read(ref _lastHeardTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastHeardTicks, value.UtcTicks);
    }

    private DateTimeOffset LastSent
    {
        get => new(Volatile.Read(ref _lastSentTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastSentTicks, value.UtcTicks);
    }

    /// <summary>Queues an unsequenced message (a tool call) for the writer.</summary>
    public ValueTask SendAsync(AgentMessage message, CancellationToken cancellationToken) =>
        _outbound.Writer.WriteAsync(message, cancellationToken);

    /// <summary>Runs the stream to its end.</summary>
    public async Task<StreamOutcome> RunAsync()
    {
        var token = _stop.Token;
        var headers = new Metadata { { "authorization", "Bearer " + _config.Credential } };
        var client = new AgentLink.AgentLinkClient(_channel);
        BrokerLinkLog.Connecting(Logger, _config.BrokerAddress!, _config.MachineId!);
        _call = client.ConnectAsync(new CallOptions(Headers: headers, CancellationToken: token));
        var now = Time.GetUtcNow();
        LastHeard = now;
        LastSent = now;
        var writer = Task.Run(WriteAsync, CancellationToken.None);
        _outbound.Writer.TryWrite(new AgentMessage { Hello = _link.CreateHello(_config, _position) });

        DateTimeOffset? connectedAt = null;
        try
        {
            var welcome = await HandshakeAsync(token);
            if (welcome is null)
            {
                return Outcome(TimeSpan.Zero);
            }

            var backlog = await OnWelcomeAsync(welcome, token);
            connectedAt = Time.GetUtcNow();
            _link.SetConnected(welcome);
            BrokerLinkLog.Connected(Logger, _config.BrokerAddress!, welcome.BrokerVersion, welcome.BrokerReplica, welcome.MachineName, welcome.ConnectionId, welcome.LastAgentSeq, backlog);

            var loops = new[]
            {
                Task.Run(ReadAsync, CancellationToken.None),
                Task.Run(ProcessAsync, CancellationToken.None),
                Task.Run(() => SendSpooledAsync(welcome.LastAgentSeq), CancellationToken.None),
                Task.Run(WatchLivenessAsync, CancellationToken.None),
                writer,
            };
            await Task.WhenAny(loops);
            End("the stream ended");
            await Task.WhenAll(loops);
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or InvalidOperationException)
        {
            Classify(ex);
        }
        finally
        {
            End("the stream ended");
            _link.MarkStreamDown();
            await writer;
        }

        return Outcome(connectedAt is { } at ? Time.GetUtcNow() - at : TimeSpan.Zero);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _call?.Dispose();
        _stop.Dispose();
    }

    private StreamOutcome Outcome(TimeSpan connectedFor) =>
        new(_endReason ?? "the stream ended", connectedFor, _retryAfter, _credentialRefused);

    /// <summary>Ends the stream for <paramref name="reason"/>; the first reason given wins, unless <paramref name="overrides"/>.</summary>
    private void End(string reason, bool overrides = false)
    {
        if (overrides)
        {
            Volatile.Write(ref _endReason, reason);
        }
        else
        {
            Interlocked.CompareExchange(ref _endReason, reason, null);
        }

        _outbound.Writer.TryComplete();
        _inbound.Writer.TryComplete();
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Turns how a loop failed into the stream's end reason.</summary>
    private void Classify(Exception ex)
    {
        switch (ex)
        {
            case RpcException { StatusCode: StatusCode.Unauthenticated or StatusCode.PermissionDenied } rpc:
                // Whatever else went wrong on the way, this is what the operator must hear about.
                _credentialRefused = true;
                End($"{rpc.StatusCode}: {rpc.Status.Detail}", overrides: true);
                break;
            case RpcException rpc when rpc.StatusCode != StatusCode.Cancelled || !_stop.IsCancellationRequested:
                End($"{rpc.StatusCode}: {rpc.Status.Detail}");
                break;
            case OperationCanceledException or RpcException:
                End("the stream was cancelled");
                break;
            case IOException or InvalidOperationException when _stop.IsCancellationRequested:
                End("the stream was cancelled");
                break;
            default:
                End("the connection broke: " + ex.Message);
                break;
        }
    }

    /// <summary>Reads the first answer: Welcome, within the handshake timeout.</summary>
    private async Task<Welcome?> HandshakeAsync(CancellationToken token)
    {
        using var timeout = new CancellationTokenSource(_link.Options.HandshakeTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, token);
        try
        {
            if (!await _call!.ResponseStream.MoveNext(linked.Token))
            {
                End("the broker ended the stream before its Welcome");
                return null;
            }
        }
        catch (Exception ex) when (timeout.IsCancellationRequested && ex is OperationCanceledException or RpcException)
        {
            End($"no Welcome within {_link.Options.HandshakeTimeout}");
            return null;
        }

        LastHeard = Time.GetUtcNow();
        var first = _call.ResponseStream.Current;
        if (first.BodyCase != BrokerMessage.BodyOneofCase.Welcome)
        {
            BrokerLinkLog.ProtocolError(Logger, $"the first message was {first.BodyCase}, not Welcome");
            End($"protocol error: the broker's first message was {first.BodyCase}");
            return null;
        }

        return first.Welcome;
    }

    /// <summary>
    /// Both resume positions: drop what the broker has, adopt its epoch, let the local side report its sessions.
    /// Returns the backlog about to be drained.
    /// </summary>
    private async Task<ulong> OnWelcomeAsync(Welcome welcome, CancellationToken token)
    {
        var spool = _link.Spool;
        if (welcome.LastAgentSeq > 0)
        {
            await spool.AcknowledgeAsync(welcome.LastAgentSeq, token);
            _link.SetAcked(welcome.LastAgentSeq);
        }

        if (welcome.BrokerEpoch != _position.BrokerEpoch)
        {
            // A broker epoch we do not know counts as position 0: it resends what it still holds, ids deduplicate.
            _position = new LinkPosition { BrokerEpoch = welcome.BrokerEpoch, LastBrokerSeq = 0 };
            _position.Save(_link.StateDirectory);
        }

        _window = welcome.ReceiveWindow > 0 ? (int)Math.Min(welcome.ReceiveWindow, 100_000) : 256;
        _heartbeatInterval = Positive(welcome.HeartbeatInterval, DefaultHeartbeat);
        _peerTimeout = Positive(welcome.PeerTimeout, DefaultPeerTimeout);
        await _link.Inbound.OnWelcomeAsync(welcome, token);
        var next = spool.NextSeq;
        return next - 1 > welcome.LastAgentSeq ? next - 1 - welcome.LastAgentSeq : 0;
    }

    private static TimeSpan Positive(Duration? duration, TimeSpan fallback) =>
        duration?.ToTimeSpan() is { Ticks: > 0 } value ? value : fallback;

    /// <summary>The only writer of the request stream; buffers while more is queued, flushes when the queue runs dry.</summary>
    private async Task WriteAsync()
    {
        var reader = _outbound.Reader;
        var token = _stop.Token;
        try
        {
            while (await reader.WaitToReadAsync(token))
            {
                while (reader.TryRead(out var message))
                {
                    _call!.RequestStream.WriteOptions = reader.Count > 0 ? WriteOptions.Buffered : WriteOptions.Default;
                    await _call.RequestStream.WriteAsync(message, token);
                    LastSent = Time.GetUtcNow();
                }
            }
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or InvalidOperationException)
        {
            Classify(ex);
        }
    }
}
