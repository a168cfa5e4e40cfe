using System.Threading.Channels;
using Relay.Broker.Sessions;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

/// <summary>
/// One agent's live stream. Five loops share it: the reader (request stream → bounded inbound queue), the processor
/// (batches → one transaction each → Ack after commit), the delivery loop (machine outbox → sequenced messages within
/// the agent's window), the briefing sync (BriefingUpdate) and the pump, the only writer of the response stream, which
/// drains the bounded outbound queue. Liveness (heartbeats, dead peer) is checked by the replica's PresenceSweeper.
/// One partial file per concern.
/// </summary>
internal sealed partial class AgentConnection : IDisposable
{
    private readonly AgentConnectionServices _services;
    private readonly IAsyncStreamReader<AgentMessage> _requests;
    private readonly IServerStreamWriter<BrokerMessage> _responses;
    private readonly ServerCallContext _call;
    private readonly Channel<InboundItem> _inbound;
    private readonly Channel<BrokerMessage> _outbound;
    private readonly MachineSessionCache _cache = new();
    private readonly StreamMemory _memory = new();

    // What this stream holds of the replica's InboundBudget: read, not yet committed. AfterCommit gives a batch's share
    // back; the stream's end gives back the rest.
    private readonly InboundBudget.Account _budget;

    // _stop: the stream is over; abandon work in progress (an uncommitted batch rolls back and is never acked).
    // _stopReading: read no more, but store what was read (agent half-close, graceful shutdown).
    // _stopWriting: the last flush took too long, or the agent is gone.
    private readonly CancellationTokenSource _stop;
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _stopWriting;
    private readonly long _briefingsVersion;
    private ConnectionEnd? _end;

    public AgentConnection(
        AgentConnectionServices services,
        AgentPrincipal principal,
        Hello hello,
        IAsyncStreamReader<AgentMessage> requests,
        IServerStreamWriter<BrokerMessage> responses,
        ServerCallContext call)
    {
        _services = services;
        _requests = requests;
        _responses = responses;
        _call = call;
        Hello = hello;
        _budget = services.InboundBudget.Open();
        Machine = new MachineIdentity(principal.MachineId, principal.MachineName);
        var aborted = call.GetHttpContext().RequestAborted;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _stopWriting = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        Revoked = principal.Revoked;
        // Registered (and so seen by the sweeper's liveness check) before RunAsync starts.
        LastHeard = LastSent = services.Time.GetUtcNow();

        // Before the handshake reads the briefings for the Welcome: a change committed after that read is seen as newer.
        _briefingsVersion = services.Signals.Version(Briefings.BriefingStore.ChangedTopic);

        // Inbound: the agent keeps at most ReceiveWindow sequenced messages unacked, plus a few unsequenced ones. When
        // the queue is full the reader stops reading, and HTTP/2 flow control pushes back on the agent.
        _inbound = Channel.CreateBounded<InboundItem>(new BoundedChannelOptions(services.Options.ReceiveWindow + 64)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        // Outbound: producers never wait; a full queue means the agent stopped reading (SLOW_CONSUMER, see TrySend).
        _outbound = Channel.CreateBounded<BrokerMessage>(new BoundedChannelOptions(services.Options.OutboundQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });

        var window = hello.ReceiveWindow == 0 ? services.Options.DefaultSendWindow : (int)Math.Min(hello.ReceiveWindow, (uint)services.Options.DefaultSendWindow * 4);
        // The outbound queue must hold a full window plus acks, bindings and heartbeats.
        SendWindow = Math.Min(window, services.Options.OutboundQueueCapacity - 32);
    }

    public Guid Id { get; } = Guid.CreateVersion7();

    public MachineIdentity Machine { get; }

    public Hello Hello { get; }

    /// <summary>Most broker messages this agent takes unacked.</summary>
    public int SendWindow { get; }

    /// <summary>The statistics of the agent's latest heartbeat (spool depth for metrics); null before the first.</summary>
    public AgentStats? LastStats
    {
        get => Volatile.Read(ref _lastStats);
        private set => Volatile.Write(ref _lastStats, value);
    }

    private AgentStats? _lastStats;
    private AgentStats? _storedStats;

    /// <summary>The latest statistics as JSON when they changed since the last call (for the lease renewal), else null.</summary>
    public string? TakeStatsToStore()
    {
        var latest = LastStats;
        if (latest is null || ReferenceEquals(Interlocked.Exchange(ref _storedStats, latest), latest))
        {
            return null;
        }

        return Google.Protobuf.JsonFormatter.Default.Format(latest);
    }

    /// <summary>Messages waiting in the outbound queue.</summary>
    public int OutboundDepth => _outbound.Reader.CanCount ? _outbound.Reader.Count : 0;

    private CancellationToken Revoked { get; }

    /// <summary>Runs the stream until it ends; throws the RpcException that ends the call, if any.</summary>
    public async Task RunAsync(Handshake handshake)
    {
        _committedSeq = handshake.LastAgentSeq;
        _ackedBrokerSeq = Math.Max(handshake.AgentPosition, 0);
        _pushedBrokerSeq = handshake.AgentPosition;
        _assignedBrokerSeq = handshake.LastAssignedSeq;
        _resentThrough = handshake.LastAssignedSeq;
        var now = _services.Time.GetUtcNow();
        LastHeard = now;
        LastSent = now;

        TrySend(new BrokerMessage { Welcome = Welcome(handshake) });
        AgentLinkLog.Connected(_services.Logger, Machine.Name, Machine.Id, Id, Hello.AgentVersion, handshake.LastAgentSeq, handshake.AgentPosition);

        // The call's token fires when the agent goes away and also when the server starts stopping; the second is a
        // graceful drain, the first is not (RequestAborted tells them apart).
        using var onCallEnd = _call.CancellationToken.UnsafeRegister(static s => ((AgentConnection)s!).OnCallCancelled(), this);
        using var onRevoked = Revoked.UnsafeRegister(static s => ((AgentConnection)s!).OnRevoked(), this);

        var pump = Task.Run(PumpAsync, CancellationToken.None);
        var reader = Task.Run(ReadAsync, CancellationToken.None);
        var delivery = Task.Run(DeliverAsync, CancellationToken.None);
        var briefings = Task.Run(() => SyncBriefingsAsync(handshake.Briefings), CancellationToken.None);

        await ProcessAsync();   // returns once the inbound queue is complete (or the stream is abandoned)
        await _stop.CancelAsync();
        await Task.WhenAll(reader, delivery, briefings);
        _budget.Close(); // nothing more is read or acked for this stream

        var end = _end ?? new ConnectionEnd(ConnectionEndKind.Failure, "The stream ended unexpectedly.");
        if (end.Kind != ConnectionEndKind.AgentGone && end.ToNotice(_services.Options.ShutdownRetryAfter) is { } notice)
        {
            _outbound.Writer.TryWrite(new BrokerMessage { Notice = notice });
        }

        _outbound.Writer.TryComplete();
        // The drain bound is a safety net against a peer that stopped reading, not protocol timing: wall-clock time.
        _stopWriting.CancelAfter(_services.Options.DrainTimeout);
        await pump;

        AgentLinkLog.Disconnected(_services.Logger, Machine.Name, Id, end.Kind, end.Detail);
        if (end.ToException() is { } status)
        {
            throw status;
        }
    }

    public void Dispose()
    {
        _budget.Close(); // also when RunAsync never ran or did not get that far
        _stop.Dispose();
        _stopReading.Dispose();
        _stopWriting.Dispose();
        _toolCalls.Dispose();
    }

    /// <summary>Called by the registry when a newer stream for the machine arrives.</summary>
    public void Replace() => End(new ConnectionEnd(ConnectionEndKind.Replaced, "A newer stream for this machine replaced this one."));

    /// <summary>Ends the stream for <paramref name="end"/>'s reason; the first reason wins.</summary>
    private void End(ConnectionEnd end)
    {
        if (Interlocked.CompareExchange(ref _end, end, null) is not null)
        {
            return;
        }

        _stopReading.Cancel();
        if (end.Kind is not (ConnectionEndKind.AgentClosed or ConnectionEndKind.ShuttingDown))
        {
            // Everything else abandons work in progress: an uncommitted batch rolls back, and was never acked.
            _stop.Cancel();
        }

        if (end.Kind == ConnectionEndKind.AgentGone)
        {
            _stopWriting.Cancel();
        }
    }

    private void OnRevoked() => End(ConnectionEnd.Revoked(Machine.Name));

    private void OnCallCancelled()
    {
        if (_call.GetHttpContext().RequestAborted.IsCancellationRequested)
        {
            End(new ConnectionEnd(ConnectionEndKind.AgentGone, "The agent went away."));
        }
        else if (_services.Lifetime.ApplicationStopping.IsCancellationRequested)
        {
            End(new ConnectionEnd(ConnectionEndKind.ShuttingDown, "The broker is shutting down; reconnect to resume."));
        }
        else
        {
            End(new ConnectionEnd(ConnectionEndKind.ProtocolError, "The call's deadline passed; AgentLink.Connect takes no deadline.", StatusCode.DeadlineExceeded));
        }
    }

    private Welcome Welcome(Handshake handshake) => new()
    {
        ConnectionId = Id.ToString("D"),
        MachineId = Machine.Id.ToString("D"),
        MachineName = Machine.Name,
        BrokerEpoch = handshake.BrokerEpoch,
        LastAgentSeq = (ulong)handshake.LastAgentSeq,
        HeartbeatInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(_services.Options.HeartbeatInterval),
        PeerTimeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(_services.Options.PeerTimeout),
        ReceiveWindow = (uint)_services.Options.ReceiveWindow,
        MaxMessageBytes = (uint)_services.Options.MaxMessageBytes,
        BrokerVersion = BrokerVersion,
        BrokerReplica = _services.Options.ReplicaName,
        ServerTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(_services.Time.GetUtcNow()),
        Sessions = { handshake.Sessions },
        Briefings = { handshake.Briefings },
    };

    private static readonly string BrokerVersion =
        typeof(AgentConnection).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
