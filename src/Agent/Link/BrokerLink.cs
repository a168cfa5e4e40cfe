using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Config;
using Relay.Agent.Hosting;
using Relay.Agent.Spool;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Link;

/// <summary>
/// The agent's end of AgentLink.Connect (agent_link.proto has the rules). Loads the configuration; while the machine is
/// not enrolled it waits and says so; otherwise it keeps one stream up (<see cref="LinkStream"/>), reconnecting with
/// exponential backoff and full jitter, and resuming from both acknowledged positions: the spool's (agent seqs) and
/// <see cref="LinkPosition"/> (broker seqs).
/// </summary>
internal sealed partial class BrokerLink : BackgroundService, IBrokerLink
{
    private readonly AgentConfigStore _configs;
    private readonly IAgentSpool _spool;
    private readonly IBrokerInbound _inbound;
    private readonly BrokerLinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, PendingToolCall> _toolCalls = new(StringComparer.Ordinal);
    private readonly Lock _stateLock = new();
    private LinkStream? _current;
    private bool _connected;
    private DateTimeOffset? _connectedSince;
    private string _connectionId = string.Empty;
    private string _lastError = string.Empty;
    private DateTimeOffset? _nextAttemptAt;
    private ulong _ackedSeq;

    public BrokerLink(AgentConfigStore configs, IAgentSpool spool, IBrokerInbound inbound, IOptions<BrokerLinkOptions> options, TimeProvider time, ILogger<BrokerLink> logger)
    {
        _configs = configs;
        _spool = spool;
        _inbound = inbound;
        _options = options.Value;
        _time = time;
        _logger = logger;
        StateDirectory = _options.ResolveStateDirectory();
    }

    /// <summary>Random per process: tells agent restarts apart in the broker's logs.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N");

    public string StateDirectory { get; }

    public event Action<bool>? ConnectionChanged;

    public bool IsConnected
    {
        get
        {
            lock (_stateLock)
            {
                return _connected;
            }
        }
    }

    public BrokerLinkState State
    {
        get
        {
            lock (_stateLock)
            {
                return new BrokerLinkState
                {
                    Connected = _connected,
                    ConnectedSince = _connectedSince is { } since ? Timestamp.FromDateTimeOffset(since) : null,
                    ConnectionId = _connectionId,
                    LastError = _lastError,
                    NextAttemptAt = _nextAttemptAt is { } next ? Timestamp.FromDateTimeOffset(next) : null,
                    AckedSeq = _ackedSeq,
                };
            }
        }
    }

    public async Task<ToolResult> CallToolAsync(ToolCall call, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        LinkStream? stream;
        lock (_stateLock)
        {
            stream = _connected ? _current : null;
        }

        if (stream is null)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The agent has no link to the broker right now; try again once it reconnects."));
        }

        call.RequestId = Guid.NewGuid().ToString("N");
        var pending = new PendingToolCall(stream);
        _toolCalls[call.RequestId] = pending;
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            await stream.SendAsync(new AgentMessage { ToolCall = call }, linked.Token);
            return await pending.Result.Task.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"The broker did not answer the tool call within {timeout}."));
        }
        catch (Exception ex) when (ex is System.Threading.Channels.ChannelClosedException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The broker link dropped before the tool call was answered; try again once it reconnects."));
        }
        finally
        {
            _toolCalls.TryRemove(call.RequestId, out _);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = new Backoff(_options.InitialBackoff, _options.MaxBackoff, Random.Shared);
        var warnedNotEnrolled = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan delay;
            var config = LoadConfig();
            if (config is null || !config.IsEnrolled)
            {
                if (config is not null && !warnedNotEnrolled)
                {
                    BrokerLinkLog.NotEnrolled(_logger, _configs.FilePath);
                    warnedNotEnrolled = true;
                }

                SetDown(config is null ? _lastError : "not enrolled: run 'relay-agent enroll --broker <url> --token <token>'", _options.NotEnrolledPollInterval);
                await DelayAsync(_options.NotEnrolledPollInterval, stoppingToken);
                continue;
            }

            warnedNotEnrolled = false;
            var outcome = await RunStreamAsync(config, stoppingToken);
            if (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            if (outcome.CredentialRefused)
            {
                delay = _options.AuthFailureBackoff;
                BrokerLinkLog.CredentialRefused(_logger, outcome.Reason, delay);
            }
            else
            {
                if (outcome.ConnectedFor >= _options.HealthyAfter)
                {
                    backoff.Reset();
                }

                delay = backoff.Next();
                if (outcome.RetryAfter is { } retryAfter && delay < retryAfter)
                {
                    delay = retryAfter + TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * _options.InitialBackoff.Ticks));
                }

                BrokerLinkLog.Disconnected(_logger, config.BrokerAddress!, outcome.Reason, delay);
            }

            SetDown(outcome.Reason, delay);
            await DelayAsync(delay, stoppingToken);
        }

        SetDown("the agent is stopping", null);
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, _time, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private AgentConfig? LoadConfig()
    {
        try
        {
            return _configs.Load();
        }
        catch (AgentConfigException ex)
        {
            BrokerLinkLog.ConfigUnusable(_logger, ex.Message);
            lock (_stateLock)
            {
                _lastError = ex.Message;
            }

            return null;
        }
    }

    private async Task<StreamOutcome> RunStreamAsync(AgentConfig config, CancellationToken stoppingToken)
    {
        GrpcChannel channel;
        try
        {
            channel = LinkChannels.Create(config);
        }
        catch (LinkConfigurationException ex)
        {
            BrokerLinkLog.ConfigUnusable(_logger, ex.Message);
            return new StreamOutcome(ex.Message, TimeSpan.Zero);
        }

        using (channel)
        {
            await using var stream = new LinkStream(this, channel, config, stoppingToken);
            lock (_stateLock)
            {
                _current = stream;
            }

            try
            {
                return await stream.RunAsync();
            }
            finally
            {
                lock (_stateLock)
                {
                    _current = null;
                }

                FailToolCalls(stream);
            }
        }
    }

    /// <summary>The Hello of a new stream: who we are and where both sequences resume.</summary>
    internal Hello CreateHello(AgentConfig config, LinkPosition position) => new()
    {
        MachineId = config.MachineId,
        AgentVersion = AgentCommandLine.Version,
        AgentInstanceId = InstanceId,
        SpoolEpoch = _spool.Epoch,
        NextSeq = _spool.NextSeq,
        BrokerEpoch = position.BrokerEpoch,
        LastBrokerSeq = position.LastBrokerSeq,
        ReceiveWindow = (uint)_options.ReceiveWindow,
        Hostname = Environment.MachineName,
        Os = OperatingSystemName,
        // Finding Claude Code's version means running `claude --version`: the doctor does that, the link does not.
        ClaudeCodeVersion = string.Empty,
    };

    internal static string OperatingSystemName { get; } = "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();

    /// <summary>Called by the stream once Welcome is handled and the pumps run.</summary>
    internal void SetConnected(Welcome welcome)
    {
        lock (_stateLock)
        {
            _connected = true;
            _connectedSince = _time.GetUtcNow();
            _connectionId = welcome.ConnectionId;
            _lastError = string.Empty;
            _nextAttemptAt = null;
            _ackedSeq = Math.Max(_ackedSeq, welcome.LastAgentSeq);
        }

        RaiseConnectionChanged(true);
    }

    internal void SetAcked(ulong seq)
    {
        lock (_stateLock)
        {
            _ackedSeq = Math.Max(_ackedSeq, seq);
        }
    }

    private void SetDown(string reason, TimeSpan? retryIn)
    {
        bool wasConnected;
        lock (_stateLock)
        {
            wasConnected = _connected;
            _connected = false;
            _connectedSince = null;
            _connectionId = string.Empty;
            _lastError = reason;
            _nextAttemptAt = retryIn is { } delay ? _time.GetUtcNow() + delay : null;
        }

        if (wasConnected)
        {
            RaiseConnectionChanged(false);
        }
    }

    /// <summary>The stream ended: nothing more can come back for its tool calls.</summary>
    internal void MarkStreamDown()
    {
        bool wasConnected;
        lock (_stateLock)
        {
            wasConnected = _connected;
            _connected = false;
            _connectedSince = null;
        }

        if (wasConnected)
        {
            RaiseConnectionChanged(false);
        }
    }

    private void RaiseConnectionChanged(bool connected)
    {
        if (ConnectionChanged is { } handler)
        {
            ThreadPool.QueueUserWorkItem(static state => state.Handler(state.Connected), (Handler: handler, Connected: connected), preferLocal: false);
        }
    }

    internal void CompleteToolCall(ToolResult result)
    {
        if (_toolCalls.TryGetValue(result.RequestId, out var pending))
        {
            pending.Result.TrySetResult(result);
        }
        else
        {
            BrokerLinkLog.UnknownToolResult(_logger, result.RequestId);
        }
    }

    private void FailToolCalls(LinkStream stream)
    {
        foreach (var pending in _toolCalls.Values.Where(p => ReferenceEquals(p.Stream, stream)))
        {
            pending.Result.TrySetException(new RpcException(new Status(StatusCode.Unavailable,
                "The broker link dropped before the tool call was answered; try again once it reconnects.")));
        }
    }

    internal IAgentSpool Spool => _spool;

    internal IBrokerInbound Inbound => _inbound;

    internal BrokerLinkOptions Options => _options;

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    /// <summary>A tool call waiting for its result, and the stream that carries it.</summary>
    private sealed class PendingToolCall(LinkStream stream)
    {
        public LinkStream Stream { get; } = stream;

        public TaskCompletionSource<ToolResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>How one stream ended, and what that means for the next attempt.</summary>
/// <param name="Reason">Why, in words (status and logs).</param>
/// <param name="ConnectedFor">How long it was up after Welcome; zero when it never got there.</param>
/// <param name="RetryAfter">The broker asked to wait this long (SHUTTING_DOWN).</param>
/// <param name="CredentialRefused">UNAUTHENTICATED or PERMISSION_DENIED: only a new enrolment helps.</param>
internal sealed record StreamOutcome(string Reason, TimeSpan ConnectedFor, TimeSpan? RetryAfter = null, bool CredentialRefused = false);
