using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Cli.Tests.Infrastructure;

/// <summary>
/// A relay-agent stand-in that speaks AgentLink to the real broker process with the public Relay.Protocol client only:
/// it redeems an enrolment token (from <c>relayctl machines enroll</c>), connects with the machine credential
/// (Hello → Welcome), sends sequenced messages (seq 1, 2, ... in its spool epoch) and waits for the broker's cumulative
/// Ack, and acks every sequenced broker message as soon as it has "processed" it — the rules of agent_link.proto.
/// </summary>
internal sealed class SimulatedAgent : IAsyncDisposable
{
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<BrokerMessage> _received = [];
    private readonly HashSet<int> _taken = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AsyncDuplexStreamingCall<AgentMessage, BrokerMessage>? _call;
    private Task? _readLoop;
    private ulong _nextSeq = 1;
    private ulong _brokerAck;
    private bool _streamOver;

    private SimulatedAgent(EnrollResponse enrolled, GrpcChannel channel)
    {
        MachineId = enrolled.MachineId;
        MachineName = enrolled.MachineName;
        _channel = channel;
    }

    public string MachineId { get; }

    public string MachineName { get; }

    public Welcome? Welcome { get; private set; }

    /// <summary>Enrols with <paramref name="enrollmentToken"/>, then connects and completes the handshake.</summary>
    public static async Task<SimulatedAgent> EnrollAndConnectAsync(string address, string enrollmentToken, CancellationToken cancellationToken)
    {
        EnrollResponse enrolled;
        using (var anonymous = GrpcChannel.ForAddress(address))
        {
            enrolled = await new AgentLink.AgentLinkClient(anonymous).EnrollAsync(
                new EnrollRequest
                {
                    EnrollmentToken = enrollmentToken,
                    RequestId = Guid.NewGuid().ToString(),
                    Hostname = "sim-host",
                    Os = "linux-x64",
                    AgentVersion = "cli-tests-sim",
                },
                deadline: DateTime.UtcNow + CallDeadline,
                cancellationToken: cancellationToken);
        }

        var options = new GrpcChannelOptions();
        options.Interceptors.Add(new Bearer(enrolled.Credential));
        var agent = new SimulatedAgent(enrolled, GrpcChannel.ForAddress(address, options));
        await agent.ConnectAsync(cancellationToken);
        return agent;
    }

    /// <summary>
    /// Makes a live session exist: the snapshot every agent sends after Welcome, listing the process (with its name and an
    /// attached channel), then its SessionStart hook. Returns once the broker has committed both.
    /// </summary>
    public Task StartSessionAsync(Guid claudeSessionId, string name, CancellationToken cancellationToken) =>
        SendAndCommitAsync(cancellationToken,
            new AgentMessage
            {
                SessionSnapshot = new SessionSnapshot
                {
                    TakenAt = Now(),
                    Sessions = { new LiveSession { Session = Evidence(claudeSessionId), ClaudeSessionIds = { claudeSessionId.ToString() }, Name = name, ChannelAttached = true } },
                },
            },
            Hook(claudeSessionId, "SessionStart", new HookFields { StartSource = SessionStartSource.Startup }));

    /// <summary>Takes the next prompt delivery, reports it delivered through the channel, and replies naming it.</summary>
    public async Task<PromptDelivery> AnswerNextPromptAsync(Guid claudeSessionId, string reply, CancellationToken cancellationToken)
    {
        var delivery = (await NextAsync(m => m.BodyCase == BrokerMessage.BodyOneofCase.PromptDelivery, cancellationToken)).PromptDelivery;
        await SendAndCommitAsync(cancellationToken,
            new AgentMessage
            {
                PromptReceipt = new PromptReceipt
                {
                    PromptId = delivery.PromptId,
                    Status = PromptStatus.Delivered,
                    DeliveryPath = DeliveryPath.Channel,
                    Session = Evidence(claudeSessionId),
                    At = Now(),
                },
            },
            new AgentMessage
            {
                Reply = new SessionReply
                {
                    ReplyId = Guid.NewGuid().ToString(),
                    Session = Evidence(claudeSessionId),
                    InReplyTo = delivery.PromptId,
                    Text = reply,
                    Source = ReplySource.ReplyTool,
                    CreatedAt = Now(),
                },
            });
        return delivery;
    }

    /// <summary>A tool call in the session asks for permission through the channel.</summary>
    public Task RequestPermissionAsync(Guid claudeSessionId, string approvalId, string toolName, string description, CancellationToken cancellationToken) =>
        SendAndCommitAsync(cancellationToken, new AgentMessage
        {
            PermissionRequest = new PermissionRequest
            {
                ApprovalId = approvalId,
                Session = Evidence(claudeSessionId),
                Origin = ApprovalOrigin.Channel,
                ClaudeRequestId = "qwert",
                ToolName = toolName,
                Description = description,
                InputPreview = description,
                RequestedAt = Now(),
            },
        });

    /// <summary>Takes the next launch request and reports Claude started with a fresh Claude session id.</summary>
    public async Task<(LaunchRequest Request, Guid ClaudeSessionId)> StartNextLaunchAsync(CancellationToken cancellationToken)
    {
        var request = (await NextAsync(m => m.BodyCase == BrokerMessage.BodyOneofCase.LaunchRequest, cancellationToken)).LaunchRequest;
        var claudeSessionId = Guid.NewGuid();
        var evidence = Evidence(claudeSessionId, request.Cwd.Length > 0 ? request.Cwd : "/home/dev");
        evidence.LaunchId = request.LaunchId;
        evidence.SessionId = request.SessionId;
        await SendAndCommitAsync(cancellationToken, new AgentMessage
        {
            LaunchResult = new LaunchResult
            {
                LaunchId = request.LaunchId,
                Started = true,
                Session = evidence,
                Name = request.Name,
                TmuxTarget = "relay:1",
                ClaudeArgs = { request.ClaudeArgs },
                At = Now(),
            },
        });
        return (request, claudeSessionId);
    }

    /// <summary>Takes the next stop request, ends the session (SessionEnd hook) and reports it stopped.</summary>
    public async Task<StopRequest> StopNextAsync(Guid claudeSessionId, CancellationToken cancellationToken)
    {
        var request = (await NextAsync(m => m.BodyCase == BrokerMessage.BodyOneofCase.StopRequest, cancellationToken)).StopRequest;
        await SendAndCommitAsync(cancellationToken,
            Hook(claudeSessionId, "SessionEnd", new HookFields { EndReason = "other" }),
            new AgentMessage { StopResult = new StopResult { StopId = request.StopId, Session = Evidence(claudeSessionId), Stopped = true, At = Now() } });
        return request;
    }

    /// <summary>The first broker message not returned before that matches <paramref name="predicate"/>, waiting for it.</summary>
    public async Task<BrokerMessage> NextAsync(Func<BrokerMessage, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                for (var i = 0; i < _received.Count; i++)
                {
                    if (!_taken.Contains(i) && predicate(_received[i]))
                    {
                        _taken.Add(i);
                        return _received[i];
                    }
                }

                if (_streamOver)
                {
                    throw new InvalidOperationException("The AgentLink stream ended before a matching message arrived.");
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Sends sequenced messages and waits until the broker's cumulative Ack covers the last one (committed).</summary>
    public async Task SendAndCommitAsync(CancellationToken cancellationToken, params AgentMessage[] messages)
    {
        ulong last = 0;
        foreach (var message in messages)
        {
            lock (_lock)
            {
                message.Seq = last = _nextSeq++;
            }

            await WriteAsync(message, cancellationToken);
        }

        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_brokerAck >= last)
                {
                    return;
                }

                if (_streamOver)
                {
                    throw new InvalidOperationException("The AgentLink stream ended before the broker acked seq " + last + ".");
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_readLoop is not null)
        {
            await _readLoop;
        }

        _call?.Dispose();
        _channel.Dispose();
        _stop.Dispose();
        _writeLock.Dispose();
    }

    private static SessionEvidence Evidence(Guid claudeSessionId, string cwd = "/home/dev/project") => new()
    {
        ClaudeSessionId = claudeSessionId.ToString(),
        ClaudePid = 4000 + (claudeSessionId.GetHashCode() & 0xfff),
        Cwd = cwd,
    };

    private static AgentMessage Hook(Guid claudeSessionId, string name, HookFields fields) => new()
    {
        HookEvent = new HookEvent
        {
            EventId = Guid.NewGuid().ToString(),
            Session = Evidence(claudeSessionId),
            HookEventName = name,
            RawJson = "{\"session_id\":\"" + claudeSessionId + "\",\"hook_event_name\":\"" + name + "\",\"cwd\":\"/home/dev/project\"}",
            RawJsonSize = 100,
            Fields = fields,
            Transport = HookTransport.Http,
            OccurredAt = Now(),
        },
    };

    private static Timestamp Now() => Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _call = new AgentLink.AgentLinkClient(_channel).ConnectAsync(cancellationToken: _stop.Token);
        _readLoop = Task.Run(() => ReadLoopAsync(_call), CancellationToken.None);
        await WriteAsync(new AgentMessage
        {
            Hello = new Hello
            {
                MachineId = MachineId,
                AgentVersion = "cli-tests-sim",
                AgentInstanceId = Guid.NewGuid().ToString("N"),
                SpoolEpoch = Guid.NewGuid().ToString("N"),
                NextSeq = 1,
                Hostname = "sim-host",
                Os = "linux-x64",
            },
        }, cancellationToken);
        Welcome = (await NextAsync(m => m.BodyCase == BrokerMessage.BodyOneofCase.Welcome, cancellationToken)).Welcome;
    }

    private async Task WriteAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _call!.RequestStream.WriteAsync(message, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync(AsyncDuplexStreamingCall<AgentMessage, BrokerMessage> call)
    {
        try
        {
            while (await call.ResponseStream.MoveNext(_stop.Token))
            {
                var message = call.ResponseStream.Current;
                if (message.BodyCase == BrokerMessage.BodyOneofCase.Ack)
                {
                    lock (_lock)
                    {
                        _brokerAck = Math.Max(_brokerAck, message.Ack.Seq);
                    }
                }
                else if (message.BodyCase == BrokerMessage.BodyOneofCase.Heartbeat)
                {
                    await WriteAsync(new AgentMessage { Heartbeat = new Heartbeat { SentAt = Now() } }, _stop.Token);
                }
                else if (message.Seq > 0)
                {
                    // Sequenced: this agent "processes" it by recording it, so it acks at once (cumulatively).
                    await WriteAsync(new AgentMessage { Ack = new Ack { Seq = message.Seq } }, _stop.Token);
                }

                lock (_lock)
                {
                    _received.Add(message);
                }

                Signal();
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or InvalidOperationException)
        {
            // The stream ended (the test is over, or the broker dropped it); waiters are told below.
        }
        finally
        {
            lock (_lock)
            {
                _streamOver = true;
            }

            Signal();
        }
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private sealed class Bearer(string token) : ClientInterceptor
    {
        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken)
        {
            context.Headers.Add("authorization", "Bearer " + token);
            return ValueTask.CompletedTask;
        }
    }
}
