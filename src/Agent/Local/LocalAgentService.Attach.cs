using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Sessions;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

internal sealed partial class LocalAgentService
{
    /// <summary>Prompt acks whose receipt and journal line are still being written, per channel, before its reader waits.</summary>
    private const int MaxDeliveriesInFlight = 64;

    /// <summary>
    /// A relay-channel's stream for its whole life (see local_agent.proto). One reader (this loop) and one writer
    /// (the connection's pump behind its bounded queue); session tool calls run beside the reader, a bounded number at
    /// a time, so a slow broker never stops prompt acks and replies.
    /// </summary>
    public override async Task Attach(IAsyncStreamReader<ChannelMessage> requestStream, IServerStreamWriter<AgentToChannelMessage> responseStream, ServerCallContext context)
    {
        var hello = await ReadHelloAsync(requestStream, context);
        var session = tracker.ObserveChannel(hello);
        using var connection = new ChannelConnection(Guid.NewGuid().ToString("D"), hello, session.Id, Options.ChannelQueueCapacity);

        // Queued before the connection is registered: nothing (a prompt) can reach the channel before its attachment.
        connection.TrySend(new AgentToChannelMessage { Attached = attachments.Build(connection.Id, session) });
        await spool.AppendAsync(new AgentMessage
        {
            ChannelAttached = new ChannelAttached
            {
                ChannelId = connection.Id,
                Session = session.Evidence(hello.ClaudeSessionId),
                ChannelVersion = hello.ChannelVersion,
                AttachedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            },
        }, context.CancellationToken);

        var replaced = channels.Attach(connection);
        tracker.SetChannel(session.Id, connection.Id);
        replaced?.Close(new Notice
        {
            Code = ErrorCode.ConnectionReplaced,
            Message = "A newer relay-channel stream attached for the same Claude process; this one is closed.",
            Closing = true,
        }, "replaced by a newer stream for the same Claude process");
        Log.Attached(logger, connection.Id, hello.ClaudePid, hello.ClaudeSessionId, hello.Reattach);

        var pump = connection.PumpAsync(responseStream, context.CancellationToken);
        prompts.Dispatch();
        approvals.OnChannelAttached(connection);

        var reason = "the channel closed its stream";
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, connection.Closing);
        using var toolSlots = new SemaphoreSlim(Options.MaxConcurrentToolCalls);
        var toolCalls = new List<Task>();
        var deliveries = new List<Task>();
        try
        {
            while (await requestStream.MoveNext(reading.Token))
            {
                tracker.Touch(session.Id);
                await HandleAsync(connection, requestStream.Current, toolSlots, toolCalls, deliveries, reading.Token);
            }
        }
        catch (OperationCanceledException) when (reading.IsCancellationRequested)
        {
            reason = connection.CloseReason ?? "the stream ended (channel gone or agent stopping)";
        }
        catch (Exception ex) when (ex is IOException or RpcException)
        {
            reason = "the stream broke: " + ex.Message;
        }
        finally
        {
            await DetachAsync(connection, session, reason, [.. toolCalls, .. deliveries], pump);
        }
    }

    private async Task<ChannelHello> ReadHelloAsync(IAsyncStreamReader<ChannelMessage> requests, ServerCallContext context)
    {
        using var timeout = new CancellationTokenSource(Options.HelloTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.CancellationToken);
        try
        {
            if (!await requests.MoveNext(linked.Token))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "The stream ended before its ChannelHello."));
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"No ChannelHello within {Options.HelloTimeout}; send it first."));
        }

        var first = requests.Current;
        if (first.BodyCase != ChannelMessage.BodyOneofCase.Hello)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"The first message of Attach must be a ChannelHello, not {first.BodyCase}."));
        }

        var hello = first.Hello;
        if (hello.ClaudePid <= 0 && hello.ClaudeSessionId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                "ChannelHello names neither the Claude process (claude_pid) nor its session (claude_session_id); relay-channel must run under Claude Code."));
        }

        if (hello.ClaudeSessionId.Length > 128 || (hello.LaunchId.Length > 0 && !ClientIds.IsValid(hello.LaunchId)) || hello.Cwd.Length > 4096 || hello.ProjectDir.Length > 4096)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                "ChannelHello is malformed: claude_session_id at most 128 characters, launch_id 1 to 128 of [A-Za-z0-9._:-], cwd and project_dir at most 4096."));
        }

        return hello;
    }

    private async ValueTask HandleAsync(
        ChannelConnection connection, ChannelMessage message, SemaphoreSlim toolSlots, List<Task> toolCalls, List<Task> deliveries, CancellationToken cancellationToken)
    {
        switch (message.BodyCase)
        {
            case ChannelMessage.BodyOneofCase.McpInitialized:
                connection.ClaudeCodeVersion = message.McpInitialized.ClientVersion;
                Log.McpInitialized(logger, connection.Id, message.McpInitialized.ClientName, message.McpInitialized.ClientVersion, message.McpInitialized.ProtocolVersion);
                break;
            case ChannelMessage.BodyOneofCase.PromptAck:
                // Not waited for here (see PromptQueue.AcknowledgeAsync); the stream's end waits for it. Bound: a
                // channel acking faster than the disk keeps up is read no faster than its oldest delivery is recorded.
                deliveries.RemoveAll(t => t.IsCompleted);
                deliveries.Add(RecordDeliveryAsync(connection, prompts.AcknowledgeAsync(connection, message.PromptAck, CancellationToken.None)));
                if (deliveries.Count > MaxDeliveriesInFlight)
                {
                    await deliveries[0].WaitAsync(cancellationToken);
                }

                break;
            case ChannelMessage.BodyOneofCase.Reply:
                await AcceptReplyAsync(connection, message.Reply, cancellationToken);
                break;
            case ChannelMessage.BodyOneofCase.PermissionRequest:
                if (Current(connection) is { } session)
                {
                    await approvals.OnChannelRequestAsync(session, message.PermissionRequest, cancellationToken);
                }

                break;
            case ChannelMessage.BodyOneofCase.ToolCall:
                StartToolCall(connection, message.ToolCall, toolSlots, toolCalls, cancellationToken);
                break;
            default:
                connection.TrySend(new AgentToChannelMessage
                {
                    Notice = new Notice { Code = ErrorCode.Protocol, Message = $"Unexpected {message.BodyCase} on an attached stream; it was ignored." },
                });
                break;
        }
    }

    /// <summary>Waits for a delivery's receipt and journal line; when they cannot be written the stream ends, as it did
    /// when the reader waited for them itself.</summary>
    private async Task RecordDeliveryAsync(ChannelConnection connection, Task delivery)
    {
        try
        {
            await delivery;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            Log.DeliveryNotRecorded(logger, ex, connection.Id);
            connection.Close(null, "the agent could not record a delivery: " + ex.Message);
        }
    }

    private async ValueTask AcceptReplyAsync(ChannelConnection connection, ChannelReply reply, CancellationToken cancellationToken)
    {
        using var activity = Diagnostics.AgentTelemetry.StartReply(reply.ReplyId);
        if (!ClientIds.IsValid(reply.ReplyId))
        {
            Refuse(connection, reply.ReplyId, ErrorCode.InvalidArgument, "reply_id must be 1 to 128 characters of [A-Za-z0-9._:-].");
            return;
        }

        if (reply.Text.Length > Options.MaxTextChars)
        {
            Refuse(connection, reply.ReplyId, ErrorCode.ResourceExhausted,
                $"The reply is {reply.Text.Length} characters; at most {Options.MaxTextChars} are accepted. Send a shorter reply or split it.");
            return;
        }

        if (Current(connection) is not { } session)
        {
            Refuse(connection, reply.ReplyId, ErrorCode.SessionEnded, "The agent no longer tracks this Claude process.");
            return;
        }

        var duplicate = await replies.AcceptOnceAsync(reply.ReplyId, async token =>
        {
            await prompts.ObserveReplyAsync(reply.InReplyTo, token);
            await spool.AppendAsync(new AgentMessage
            {
                Reply = new SessionReply
                {
                    ReplyId = reply.ReplyId,
                    Session = session.Evidence(),
                    InReplyTo = reply.InReplyTo,
                    Text = reply.Text,
                    Source = ReplySource.ReplyTool,
                    CreatedAt = reply.CreatedAt ?? Timestamp.FromDateTimeOffset(time.GetUtcNow()),
                },
            }, token);
        }, cancellationToken);
        connection.TrySend(new AgentToChannelMessage { ReplyAccepted = new ReplyAccepted { ReplyId = reply.ReplyId, Duplicate = duplicate } });
    }

    private void StartToolCall(ChannelConnection connection, ChannelToolCall call, SemaphoreSlim toolSlots, List<Task> toolCalls, CancellationToken cancellationToken)
    {
        if (Current(connection) is not { } session)
        {
            return;
        }

        if (!toolSlots.Wait(0, CancellationToken.None))
        {
            connection.TrySend(new AgentToChannelMessage
            {
                ToolResult = new ChannelToolResult
                {
                    RequestId = call.RequestId,
                    Error = new ToolError { Code = ErrorCode.ResourceExhausted, Message = $"{Options.MaxConcurrentToolCalls} session tool calls are already in progress; wait for one to finish." },
                },
            });
            return;
        }

        toolCalls.RemoveAll(t => t.IsCompleted);
        toolCalls.Add(Task.Run(async () =>
        {
            try
            {
                var result = await tools.CallAsync(session, call, cancellationToken);
                connection.TrySend(new AgentToChannelMessage { ToolResult = result });
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The stream ended; nobody takes the answer.
            }
            finally
            {
                toolSlots.Release();
            }
        }, CancellationToken.None));
    }

    private async Task DetachAsync(ChannelConnection connection, SessionView session, string reason, List<Task> inFlight, Task pump)
    {
        if (channels.Detach(connection))
        {
            tracker.ClearChannel(session.Id, connection.Id);
        }

        // The call may be over: a bound of our own, so the detach is still recorded.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await Task.WhenAll(inFlight).WaitAsync(bound.Token);
            connection.Complete();
            await spool.AppendAsync(new AgentMessage
            {
                ChannelDetached = new ChannelDetached
                {
                    ChannelId = connection.Id,
                    Session = (tracker.Get(session.Id) ?? session).Evidence(connection.Hello.ClaudeSessionId),
                    Reason = reason,
                    DetachedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
                },
            }, bound.Token);
            await pump.WaitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            Log.DetachSlow(logger, connection.Id);
        }

        Log.Detached(logger, connection.Id, reason);
    }

    private static void Refuse(ChannelConnection connection, string requestId, ErrorCode code, string message) =>
        connection.TrySend(new AgentToChannelMessage { Notice = new Notice { Code = code, Message = message, RequestId = requestId } });

    private SessionView? Current(ChannelConnection connection) => tracker.Get(connection.SessionId);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4600, Level = LogLevel.Information, Message = "Channel {ChannelId} attached for Claude process {ClaudePid} (Claude session {ClaudeSessionId}, re-attach {Reattach}).")]
        public static partial void Attached(ILogger logger, string channelId, int claudePid, string claudeSessionId, bool reattach);

        [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "Channel {ChannelId} detached: {Reason}.")]
        public static partial void Detached(ILogger logger, string channelId, string reason);

        [LoggerMessage(EventId = 4602, Level = LogLevel.Debug, Message = "Channel {ChannelId}: MCP handshake with {ClientName} {ClientVersion} (protocol {ProtocolVersion}).")]
        public static partial void McpInitialized(ILogger logger, string channelId, string clientName, string clientVersion, string protocolVersion);

        [LoggerMessage(EventId = 4603, Level = LogLevel.Warning, Message = "Channel {ChannelId}: its detach took too long to record; the next snapshot corrects the broker's view.")]
        public static partial void DetachSlow(ILogger logger, string channelId);

        [LoggerMessage(EventId = 4604, Level = LogLevel.Error, Message = "Channel {ChannelId}: a prompt's delivery could not be recorded; the stream is closed.")]
        public static partial void DeliveryNotRecorded(ILogger logger, Exception exception, string channelId);
    }
}
