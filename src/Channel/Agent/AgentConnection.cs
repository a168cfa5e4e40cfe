using Microsoft.Extensions.Hosting;
using Relay.Channel.Hosting;
using Relay.Channel.Lifetime;
using Relay.Channel.Mcp;
using Relay.Channel.Prompts;
using Relay.Grpc;
using Relay.Protocol.Local;
using Relay.Protocol.V1;

namespace Relay.Channel.Agent;

/// <summary>
/// Keeps one Attach stream to the local agent for the channel's whole life. Each stream starts with ChannelHello;
/// after the agent's answer the channel re-sends what the previous stream may have lost (the MCP handshake summary,
/// unconfirmed replies, unanswered tool calls), then one writer drains the outbound queue while one reader dispatches
/// the agent's messages. When the agent is absent or restarts, the channel reconnects with backoff; Claude keeps
/// working meanwhile (tools answer with clear errors after a bounded wait).
/// </summary>
internal sealed partial class AgentConnection(
    AgentAttach link,
    ChannelIdentity identity,
    PromptInbox inbox,
    PermissionRelay permissions,
    IOptions<RelayChannelOptions> options,
    TimeProvider time,
    ILogger<AgentConnection> logger) : BackgroundService
{
    private readonly RelayChannelOptions _options = options.Value;

    /// <summary>The socket this channel dials.</summary>
    public string SocketPath { get; } = string.IsNullOrEmpty(options.Value.AgentSocket) ? LocalAgentPaths.Socket() : options.Value.AgentSocket;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start path: the host starts hosted services one after another, and Claude Code's initialize must not
        // wait for this one.
        await Task.Yield();
        LifetimeLog.Starting(logger, identity.Version, identity.ClaudeSessionId, identity.ClaudePid, SocketPath);
        using var channel = GrpcChannel.ForAddress("unix:" + SocketPath, new GrpcChannelOptions
        {
            // Detects an agent that hangs without closing the socket.
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            TimeProvider = time,
        });
        var client = new LocalAgent.LocalAgentClient(channel);
        var backoff = new Backoff(_options.ReconnectMinDelay, _options.ReconnectMaxDelay);
        var everAttached = false;
        var outageLogged = false;

        while (!stoppingToken.IsCancellationRequested)
        {
            StreamEnd end;
            try
            {
                end = await RunStreamAsync(client, reattach: everAttached, stoppingToken);
            }
            catch (Exception e) when (stoppingToken.IsCancellationRequested && e is OperationCanceledException or RpcException or IOException)
            {
                // Shutting down: the stream was cut mid-call (RpcException CANCELLED), which is expected.
                break;
            }

            link.MarkDetached();
            if (end.Attached)
            {
                everAttached = true;
                backoff.Reset();
                outageLogged = false;
                AgentLog.Detached(logger, end.Reason);
            }
            else if (!outageLogged)
            {
                outageLogged = true;
                AgentLog.AgentAway(logger, SocketPath, end.Reason);
            }
            else
            {
                AgentLog.AttachFailed(logger, end.Reason);
            }

            if (end.Replaced)
            {
                // Another relay-channel for the same Claude process took over; fighting it back would only make the
                // two replace each other forever.
                AgentLog.Replaced(logger);
                return;
            }

            var delay = end.RetryAfter is { } retryAfter && retryAfter > TimeSpan.Zero ? retryAfter : backoff.Next();
            try
            {
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<StreamEnd> RunStreamAsync(LocalAgent.LocalAgentClient client, bool reattach, CancellationToken stoppingToken)
    {
        using var streamCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = client.AttachAsync(cancellationToken: streamCts.Token);
        var attached = false;
        try
        {
            await call.RequestStream.WriteAsync(new ChannelMessage { Hello = identity.ToHello(reattach) }, streamCts.Token);

            var first = await ReadFirstAsync(call.ResponseStream, streamCts.Token);
            if (first.BodyCase != AgentToChannelMessage.BodyOneofCase.Attached)
            {
                return first.BodyCase == AgentToChannelMessage.BodyOneofCase.Notice
                    ? StreamEnd.FromNotice(first.Notice, attached: false)
                    : new StreamEnd(false, $"the agent answered ChannelHello with {first.BodyCase}, not 'attached'");
            }

            attached = true;
            link.MarkAttached(first.Attached);
            AgentLog.Attached(logger, first.Attached.ChannelId, first.Attached.SessionId, first.Attached.Name, reattach);
            var resent = await ResendAsync(call.RequestStream, streamCts.Token);

            var writer = WriteLoopAsync(call.RequestStream, resent, streamCts.Token);
            var reader = ReadLoopAsync(call.ResponseStream, streamCts.Token);
            var finished = await Task.WhenAny(writer, reader);
            await streamCts.CancelAsync();
            var end = await reader.ContinueWith(static t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);
            await writer.ContinueWith(static _ => { }, TaskScheduler.Default);
            if (stoppingToken.IsCancellationRequested)
            {
                await CompleteQuietlyAsync(call.RequestStream);
                stoppingToken.ThrowIfCancellationRequested();
            }

            return end ?? (finished.Exception?.GetBaseException() is { } e ? new StreamEnd(true, Describe(e)) : new StreamEnd(true, "the stream ended"));
        }
        catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
        {
            return new StreamEnd(attached, Describe(e));
        }
        catch (IOException e) when (!stoppingToken.IsCancellationRequested)
        {
            return new StreamEnd(attached, e.Message);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return new StreamEnd(attached, $"the agent did not answer ChannelHello within {_options.AttachTimeout}");
        }
    }

    private async Task<AgentToChannelMessage> ReadFirstAsync(IAsyncStreamReader<AgentToChannelMessage> responses, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.AttachTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        if (!await responses.MoveNext(linked.Token))
        {
            throw new IOException("the agent closed the stream before answering ChannelHello");
        }

        return responses.Current;
    }

    // The writer loop is not running yet, so these writes are the stream's only writer. Returns the ids sent, so that
    // the writer loop skips copies still in the outbound queue (a write that failed as the previous stream broke may
    // have reached the old agent and still be queued).
    private async Task<HashSet<string>> ResendAsync(IClientStreamWriter<ChannelMessage> requests, CancellationToken cancellationToken)
    {
        var sent = new HashSet<string>(StringComparer.Ordinal);
        if (link.McpInitialized is { } initialized)
        {
            await requests.WriteAsync(new ChannelMessage { McpInitialized = initialized }, cancellationToken);
        }

        var replies = link.Replies.Snapshot();
        foreach (var reply in replies)
        {
            await requests.WriteAsync(new ChannelMessage { Reply = reply }, cancellationToken);
            sent.Add(reply.ReplyId);
        }

        var calls = link.ToolCalls.Snapshot();
        foreach (var toolCall in calls)
        {
            await requests.WriteAsync(new ChannelMessage { ToolCall = toolCall }, cancellationToken);
            sent.Add(toolCall.RequestId);
        }

        if (replies.Count + calls.Count > 0)
        {
            AgentLog.Resent(logger, replies.Count, calls.Count);
        }

        return sent;
    }

    // Peek, write, then remove: a message whose write fails stays queued for the next stream. Replies and tool calls
    // that are settled, or were just re-sent on this stream, are dropped instead of written again.
    private async Task WriteLoopAsync(IClientStreamWriter<ChannelMessage> requests, HashSet<string> resent, CancellationToken cancellationToken)
    {
        var outbound = link.Outbound;
        while (await outbound.WaitToReadAsync(cancellationToken))
        {
            while (outbound.TryPeek(out var message))
            {
                if (!IsSettledOrResent(message, resent))
                {
                    await requests.WriteAsync(message, cancellationToken);
                }

                outbound.TryRead(out _);
            }
        }
    }

    private bool IsSettledOrResent(ChannelMessage message, HashSet<string> resent) => message.BodyCase switch
    {
        ChannelMessage.BodyOneofCase.Reply => resent.Contains(message.Reply.ReplyId) || !link.Replies.IsPending(message.Reply.ReplyId),
        ChannelMessage.BodyOneofCase.ToolCall => resent.Contains(message.ToolCall.RequestId) || !link.ToolCalls.IsPending(message.ToolCall.RequestId),
        _ => false,
    };

    private async Task<StreamEnd> ReadLoopAsync(IAsyncStreamReader<AgentToChannelMessage> responses, CancellationToken cancellationToken)
    {
        while (await responses.MoveNext(cancellationToken))
        {
            var message = responses.Current;
            switch (message.BodyCase)
            {
                case AgentToChannelMessage.BodyOneofCase.AttachmentUpdated:
                    link.UpdateAttachment(message.AttachmentUpdated);
                    AgentLog.AttachmentUpdated(logger, message.AttachmentUpdated.SessionId, message.AttachmentUpdated.Name, message.AttachmentUpdated.BrokerConnected);
                    break;
                case AgentToChannelMessage.BodyOneofCase.Prompt:
                case AgentToChannelMessage.BodyOneofCase.SessionMessageStatus:
                    await inbox.PostAsync(message, cancellationToken);
                    break;
                case AgentToChannelMessage.BodyOneofCase.PermissionVerdict:
                    await permissions.OnVerdictAsync(message.PermissionVerdict, cancellationToken);
                    break;
                case AgentToChannelMessage.BodyOneofCase.ReplyAccepted:
                    link.Replies.Accept(message.ReplyAccepted);
                    break;
                case AgentToChannelMessage.BodyOneofCase.ToolResult:
                    link.ToolCalls.Complete(message.ToolResult);
                    break;
                case AgentToChannelMessage.BodyOneofCase.Notice:
                    if (OnNotice(message.Notice) is { } end)
                    {
                        return end;
                    }

                    break;
                case AgentToChannelMessage.BodyOneofCase.Attached:
                    link.UpdateAttachment(message.Attached);
                    break;
                default:
                    AgentLog.UnknownMessage(logger, message.BodyCase);
                    break;
            }
        }

        return new StreamEnd(true, "the agent ended the stream");
    }

    private StreamEnd? OnNotice(Notice notice)
    {
        var text = string.IsNullOrEmpty(notice.Message) ? notice.Code.ToString() : notice.Message;
        if (notice.RequestId.Length > 0
            && (link.Replies.Refuse(notice.RequestId, text) || link.ToolCalls.Fail(notice.RequestId, notice.Code, text)))
        {
            AgentLog.RequestRefused(logger, notice.RequestId, notice.Code, text);
            return null;
        }

        AgentLog.Notice(logger, notice.Code, text, notice.Closing);
        return notice.Closing ? StreamEnd.FromNotice(notice, attached: true) : null;
    }

    private static async Task CompleteQuietlyAsync(IClientStreamWriter<ChannelMessage> requests)
    {
        try
        {
            await requests.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or IOException or OperationCanceledException or InvalidOperationException)
        {
            // Best effort: the agent notices the stream's end either way.
        }
    }

    private static string Describe(Exception e) => e switch
    {
        RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
        _ => e.Message,
    };

    /// <summary>How a stream ended: whether it got as far as attached, why it ended, and what the agent asked for.</summary>
    private sealed record StreamEnd(bool Attached, string Reason, TimeSpan? RetryAfter = null, bool Replaced = false)
    {
        public static StreamEnd FromNotice(Notice notice, bool attached) => new(
            attached,
            $"{notice.Code}: {notice.Message}",
            notice.RetryAfter?.ToTimeSpan(),
            notice.Code == ErrorCode.ConnectionReplaced);
    }
}
