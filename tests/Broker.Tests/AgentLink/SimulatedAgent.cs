using System.Collections.Concurrent;
using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using Machine = Relay.Broker.Persistence.Entities.Machine;

namespace Relay.Broker.Tests.AgentLink;

/// <summary>
/// A relay-agent stand-in speaking AgentLink over real sockets with the generated client: an enrolled machine (row and
/// credential inserted directly), a "spool" of sequenced messages kept until the broker acks them, resume positions
/// carried across reconnects, and every broker message recorded. Sequenced broker messages are acked at once unless
/// <see cref="AutoAck"/> is off. Reusable by any broker test that needs an agent.
/// </summary>
internal sealed class SimulatedAgent : IAsyncDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SortedDictionary<ulong, AgentMessage> _spool = [];
    private readonly Lock _lock = new();
    private readonly List<BrokerMessage> _received = [];
    private readonly HashSet<int> _taken = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _streamOver;
    private AsyncDuplexStreamingCall<AgentMessage, BrokerMessage>? _call;
    private CancellationTokenSource? _callCts;
    private Task? _readLoop;
    private ulong _nextSeq = 1;
    private ulong _brokerAck;

    private SimulatedAgent(Guid machineId, string machineName, string credential)
    {
        MachineId = machineId;
        MachineName = machineName;
        Credential = credential;
    }

    public Guid MachineId { get; }

    public string MachineName { get; }

    public string Credential { get; }

    /// <summary>The agent's spool epoch; a new one simulates an agent whose spool was wiped.</summary>
    public string SpoolEpoch { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>The broker epoch of the last Welcome, sent back in the next Hello.</summary>
    public string BrokerEpoch { get; set; } = string.Empty;

    /// <summary>The highest broker seq this agent processed (its resume position).</summary>
    public ulong LastBrokerSeq { get; private set; }

    /// <summary>Ack sequenced broker messages as soon as they arrive.</summary>
    public bool AutoAck { get; set; } = true;

    /// <summary>The last Welcome.</summary>
    public Welcome? Welcome { get; private set; }

    /// <summary>Every sequenced broker message received, across connections (duplicates included).</summary>
    public ConcurrentQueue<BrokerMessage> Sequenced { get; } = new();

    /// <summary>The broker's cumulative ack of this agent's seqs.</summary>
    public ulong BrokerAck
    {
        get
        {
            lock (_lock)
            {
                return _brokerAck;
            }
        }
    }

    /// <summary>How the current call ended: null while it runs or when it ended OK.</summary>
    public Task<RpcException?> Ended { get; private set; } = Task.FromResult<RpcException?>(null);

    /// <summary>Inserts a machine and its credential into <paramref name="database"/> (what enrolment would do).</summary>
    public static async Task<SimulatedAgent> EnrollAsync(TestDatabase database, string? name = null, CancellationToken cancellationToken = default)
    {
        var machine = new Machine { Id = Guid.NewGuid(), Name = name ?? "sim-" + Guid.NewGuid().ToString("N")[..8], CreatedAt = DateTimeOffset.UtcNow };
        var credential = "relay_mc_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await using var db = database.CreateContext();
        db.Machines.Add(machine);
        db.MachineCredentials.Add(new MachineCredential { Id = Guid.NewGuid(), MachineId = machine.Id, TokenHash = TokenHash.Compute(credential), CreatedAt = machine.CreatedAt });
        await db.SaveChangesAsync(cancellationToken);
        return new SimulatedAgent(machine.Id, machine.Name, credential);
    }

    /// <summary>A second agent process holding the same machine's credential (a restarted agent racing the old one).</summary>
    public SimulatedAgent CloneForSameMachine() => new(MachineId, MachineName, Credential) { SpoolEpoch = SpoolEpoch };

    /// <summary>Connects (Hello → Welcome), then resends every spooled message the broker has not committed.</summary>
    public async Task<Welcome> ConnectAsync(TestBroker broker, CancellationToken cancellationToken, uint receiveWindow = 0, string? machineIdInHello = null, bool retransmit = true)
    {
        await AbortAsync();
        lock (_lock)
        {
            _received.Clear();
            _taken.Clear();
            _streamOver = false;
        }

        _callCts = new CancellationTokenSource();
        var client = new Protocol.V1.AgentLink.AgentLinkClient(broker.CreateChannel(Credential));
        _call = client.ConnectAsync(cancellationToken: _callCts.Token);
        await WriteAsync(new AgentMessage
        {
            Hello = new Hello
            {
                MachineId = machineIdInHello ?? MachineId.ToString("D"),
                AgentVersion = "sim-1",
                AgentInstanceId = Guid.NewGuid().ToString("N"),
                SpoolEpoch = SpoolEpoch,
                NextSeq = _nextSeq,
                BrokerEpoch = BrokerEpoch,
                LastBrokerSeq = LastBrokerSeq,
                ReceiveWindow = receiveWindow,
                Hostname = "sim-host",
                Os = "linux-x64",
            },
        }, cancellationToken);

        var ended = new TaskCompletionSource<RpcException?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Ended = ended.Task;
        _readLoop = Task.Run(() => ReadLoopAsync(_call, ended));
        var welcome = (await NextAsync(m => m.BodyCase == BrokerMessage.BodyOneofCase.Welcome, cancellationToken)).Welcome;
        Welcome = welcome;
        BrokerEpoch = welcome.BrokerEpoch;
        lock (_lock)
        {
            _brokerAck = Math.Max(_brokerAck, welcome.LastAgentSeq);
            foreach (var seq in _spool.Keys.Where(s => s <= welcome.LastAgentSeq).ToList())
            {
                _spool.Remove(seq);
            }
        }

        if (retransmit)
        {
            List<AgentMessage> pending;
            lock (_lock)
            {
                pending = _spool.Values.ToList();
            }

            foreach (var message in pending)
            {
                await WriteAsync(message, cancellationToken);
            }
        }

        return welcome;
    }

    /// <summary>Spools and sends a sequenced message; returns its seq.</summary>
    public async Task<ulong> SendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            message.Seq = _nextSeq++;
            _spool[message.Seq] = message;
        }

        await WriteAsync(message, cancellationToken);
        return message.Seq;
    }

    /// <summary>Spools a sequenced message without sending it (it goes out with the next connect's retransmission).</summary>
    public ulong Spool(AgentMessage message)
    {
        lock (_lock)
        {
            message.Seq = _nextSeq++;
            _spool[message.Seq] = message;
            return message.Seq;
        }
    }

    /// <summary>Sends an unsequenced message (heartbeat, ack, tool call) or anything raw, as is.</summary>
    public async Task WriteAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        var call = _call ?? throw new InvalidOperationException("Not connected.");
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await call.RequestStream.WriteAsync(message, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Acks broker messages up to <paramref name="seq"/> (when <see cref="AutoAck"/> is off).</summary>
    public Task AckAsync(ulong seq, CancellationToken cancellationToken)
    {
        LastBrokerSeq = Math.Max(LastBrokerSeq, seq);
        return WriteAsync(new AgentMessage { Ack = new Ack { Seq = seq } }, cancellationToken);
    }

    /// <summary>Waits until the broker acked <paramref name="seq"/>.</summary>
    public Task WaitForAckAsync(ulong seq, CancellationToken cancellationToken) => WaitUntilAsync(() => _brokerAck >= seq, cancellationToken);

    /// <summary>
    /// The first broker message of the current connection that matches <paramref name="predicate"/> and was not
    /// returned before, waiting for it if needed.
    /// </summary>
    public async Task<BrokerMessage> NextAsync(Func<BrokerMessage, bool> predicate, CancellationToken cancellationToken)
    {
        BrokerMessage? found = null;
        await WaitUntilAsync(() =>
        {
            for (var i = 0; i < _received.Count; i++)
            {
                if (!_taken.Contains(i) && predicate(_received[i]))
                {
                    _taken.Add(i);
                    found = _received[i];
                    return true;
                }
            }

            return _streamOver ? throw new InvalidOperationException("The stream ended before a matching message arrived.") : false;
        }, cancellationToken);
        return found!;
    }

    /// <summary>Every broker message of the current connection so far.</summary>
    public List<BrokerMessage> Received()
    {
        lock (_lock)
        {
            return [.. _received];
        }
    }

    /// <summary>Waits until <paramref name="condition"/> (checked under the agent's lock) holds.</summary>
    private async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition())
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private void Changed() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Half-closes the request stream, as an agent does when it stops cleanly.</summary>
    public async Task CloseAsync()
    {
        if (_call is { } call)
        {
            await _writeLock.WaitAsync();
            try
            {
                await call.RequestStream.CompleteAsync();
            }
            finally
            {
                _writeLock.Release();
            }
        }
    }

    /// <summary>Drops the connection without a word (the agent process died).</summary>
    public async Task AbortAsync()
    {
        if (_callCts is { } cts)
        {
            await cts.CancelAsync();
        }

        if (_readLoop is { } loop)
        {
            await loop;
        }

        _call?.Dispose();
        _call = null;
        _callCts?.Dispose();
        _callCts = null;
        _readLoop = null;
    }

    public async ValueTask DisposeAsync()
    {
        await AbortAsync();
        _writeLock.Dispose();
    }

    private async Task ReadLoopAsync(AsyncDuplexStreamingCall<AgentMessage, BrokerMessage> call, TaskCompletionSource<RpcException?> ended)
    {
        try
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                var message = call.ResponseStream.Current;
                if (message.BodyCase == BrokerMessage.BodyOneofCase.Ack)
                {
                    lock (_lock)
                    {
                        _brokerAck = Math.Max(_brokerAck, message.Ack.Seq);
                        foreach (var seq in _spool.Keys.Where(s => s <= message.Ack.Seq).ToList())
                        {
                            _spool.Remove(seq);
                        }
                    }

                    Changed();
                }
                else if (message.Seq > 0)
                {
                    Sequenced.Enqueue(message);
                    if (AutoAck)
                    {
                        LastBrokerSeq = Math.Max(LastBrokerSeq, message.Seq);
                        try
                        {
                            await WriteAsync(new AgentMessage { Ack = new Ack { Seq = message.Seq } }, CancellationToken.None);
                        }
                        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
                        {
                            // The stream is ending; the next connect's Hello carries the position.
                        }
                    }
                }

                lock (_lock)
                {
                    _received.Add(message);
                }

                Changed();
            }

            ended.TrySetResult(null);
        }
        catch (RpcException ex)
        {
            ended.TrySetResult(ex);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            ended.TrySetResult(new RpcException(new Status(StatusCode.Cancelled, ex.Message)));
        }
        finally
        {
            lock (_lock)
            {
                _streamOver = true;
            }

            Changed();
        }
    }
}

/// <summary>Builders for the agent messages tests send.</summary>
internal static class AgentMessages
{
    public static SessionEvidence Evidence(Guid claudeSessionId, int pid = 0, string cwd = "/home/dev/project", Guid? launchId = null) => new()
    {
        ClaudeSessionId = claudeSessionId.ToString("D"),
        ClaudePid = pid,
        Cwd = cwd,
        LaunchId = launchId?.ToString("D") ?? string.Empty,
    };

    public static AgentMessage Hook(SessionEvidence session, string hookEventName, Action<HookFields>? fields = null, Guid? eventId = null)
    {
        var f = new HookFields();
        fields?.Invoke(f);
        return new AgentMessage
        {
            HookEvent = new HookEvent
            {
                EventId = (eventId ?? Guid.NewGuid()).ToString("D"),
                Session = session,
                HookEventName = hookEventName,
                RawJson = $$"""{"session_id":"{{session.ClaudeSessionId}}","hook_event_name":"{{hookEventName}}","cwd":"{{session.Cwd}}"}""",
                Fields = f,
                Transport = HookTransport.Http,
                OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            },
        };
    }

    public static AgentMessage SessionStart(SessionEvidence session, SessionStartSource source) =>
        Hook(session, "SessionStart", f => f.StartSource = source);

    public static AgentMessage SessionEnd(SessionEvidence session, string reason) =>
        Hook(session, "SessionEnd", f => f.EndReason = reason);

    public static AgentMessage ChannelAttached(SessionEvidence session, string channelId) => new()
    {
        ChannelAttached = new ChannelAttached { ChannelId = channelId, Session = session, ChannelVersion = "sim", AttachedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
    };

    public static AgentMessage Snapshot(params LiveSession[] sessions) => new()
    {
        SessionSnapshot = new SessionSnapshot { TakenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Sessions = { sessions } },
    };

    public static LiveSession Live(SessionEvidence session, bool channelAttached = false, params Guid[] lineage) => new()
    {
        Session = session,
        ClaudeSessionIds = { (lineage.Length == 0 ? [Guid.Parse(session.ClaudeSessionId)] : lineage).Select(id => id.ToString("D")) },
        ChannelAttached = channelAttached,
    };
}
