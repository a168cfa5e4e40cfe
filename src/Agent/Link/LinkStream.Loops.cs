using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.Link;
using Relay.Protocol.V1;

using BrokerMessageBodyCase = Relay.Protocol.V1.BrokerMessage.BodyOneofCase;

namespace Relay.Agent.Link;

internal sealed partial class LinkStream
{
    /// <summary>Response stream → acks, state, tool results and notices here; sequenced messages to the processor.</summary>
    private async Task ReadAsync()
    {
        var token = _stop.Token;
        var responses = _call!.ResponseStream;
        try
        {
            while (await responses.MoveNext(token))
            {
                var message = responses.Current;
                LastHeard = Time.GetUtcNow();
                switch (message.BodyCase)
                {
                    case BrokerMessage.BodyOneofCase.Ack:
                        await OnAckAsync(message.Ack.Seq, token);
                        break;
                    case BrokerMessage.BodyOneofCase.Heartbeat:
                        AnswerHeartbeat();
                        break;
                    case BrokerMessage.BodyOneofCase.SessionBinding or BrokerMessage.BodyOneofCase.BriefingUpdate:
                        HandleState(message);
                        break;
                    case BrokerMessage.BodyOneofCase.ToolResult:
                        _link.CompleteToolCall(message.ToolResult);
                        break;
                    case BrokerMessage.BodyOneofCase.Notice:
                        OnNotice(message.Notice);
                        break;
                    case BrokerMessage.BodyOneofCase.Welcome:
                        BrokerLinkLog.ProtocolError(Logger, "a second Welcome arrived");
                        End("protocol error: a second Welcome");
                        return;
                    default:
                        if (message.Seq > 0)
                        {
                            await _inbound.Writer.WriteAsync(message, token);
                        }

                        break;
                }
            }

            End("the broker ended the stream");
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or InvalidOperationException)
        {
            Classify(ex);
        }
    }

    private void HandleState(BrokerMessage message)
    {
        try
        {
            _link.Inbound.HandleState(message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            BrokerLinkLog.StateFailed(Logger, ex, message.BodyCase);
        }
    }

    /// <summary>The broker committed our messages up to <paramref name="seq"/>: they leave the spool and the window.</summary>
    private async Task OnAckAsync(ulong seq, CancellationToken token)
    {
        await _link.Spool.AcknowledgeAsync(seq, token);
        _link.SetAcked(seq);
        TaskCompletionSource opened;
        lock (_lock)
        {
            while (_inFlight.TryPeek(out var first) && first <= seq)
            {
                _inFlight.Dequeue();
            }

            opened = _windowOpened;
            _windowOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        opened.TrySetResult();
    }

    private void OnNotice(Notice notice)
    {
        BrokerLinkLog.Notice(Logger, notice.Code, notice.Message, notice.Closing);
        switch (notice.Code)
        {
            case ErrorCode.ConnectionReplaced:
                BrokerLinkLog.Replaced(Logger, notice.Message);
                End("replaced by another stream for this machine: " + notice.Message);
                break;
            case ErrorCode.ShuttingDown:
                _retryAfter = notice.RetryAfter?.ToTimeSpan();
                End("the broker is shutting down: " + notice.Message);
                break;
            case ErrorCode.SlowConsumer:
                End("the broker found this agent too slow: " + notice.Message);
                break;
            case ErrorCode.PermissionDenied when notice.Closing:
                _credentialRefused = true;
                End(notice.Message, overrides: true);
                break;
            default:
                if (notice.RetryAfter is { } retryAfter)
                {
                    _retryAfter = retryAfter.ToTimeSpan();
                }

                if (notice.Closing)
                {
                    End($"the broker closed the stream ({notice.Code}): {notice.Message}");
                }

                break;
        }
    }

    /// <summary>
    /// Inbound sequenced messages → the local side, in order; then the position is made durable and one cumulative Ack
    /// covers everything taken from the queue at once (retransmissions at or below the position included). Consecutive
    /// prompt deliveries are handed over together and waited for together, so their journal lines share one fsync (and
    /// the last of a burst does not wait for one fsync per prompt before it); anything else waits for them first.
    /// </summary>
    private async Task ProcessAsync()
    {
        var reader = _inbound.Reader;
        var token = _stop.Token;
        var prompts = new List<(ulong Seq, BrokerMessageBodyCase Body, Task Handling)>();
        try
        {
            while (await reader.WaitToReadAsync(token))
            {
                var position = _position.LastBrokerSeq;
                var take = false;
                while (reader.TryRead(out var message))
                {
                    take = true;
                    if (message.Seq <= position || (prompts.Count > 0 && message.Seq <= prompts[^1].Seq))
                    {
                        continue;
                    }

                    if (message.BodyCase == BrokerMessage.BodyOneofCase.PromptDelivery)
                    {
                        prompts.Add((message.Seq, message.BodyCase, _link.Inbound.HandleSequencedAsync(message, token).AsTask()));
                        continue;
                    }

                    if (await SettleAsync(prompts, position, token) is not { } settled)
                    {
                        return;
                    }

                    position = settled;
                    try
                    {
                        await _link.Inbound.HandleSequencedAsync(message, token);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        await FailAsync(ex, message.Seq, message.BodyCase, position, token);
                        return;
                    }

                    position = message.Seq;
                }

                if (await SettleAsync(prompts, position, token) is not { } last)
                {
                    return;
                }

                if (take)
                {
                    await AckAsync(last, token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or RpcException or IOException)
        {
            Classify(ex);
        }
    }

    /// <summary>
    /// Waits for the prompt deliveries handed over, in order; returns the position they take the stream to, or null
    /// when one failed (then everything before it is acked and the stream ends).
    /// </summary>
    private async Task<ulong?> SettleAsync(List<(ulong Seq, BrokerMessageBodyCase Body, Task Handling)> started, ulong position, CancellationToken token)
    {
        try
        {
            foreach (var (seq, body, handling) in started)
            {
                try
                {
                    await handling;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    await FailAsync(ex, seq, body, position, token);
                    return null;
                }

                position = seq;
            }

            return position;
        }
        finally
        {
            started.Clear();
        }
    }

    private async Task FailAsync(Exception ex, ulong seq, BrokerMessageBodyCase body, ulong position, CancellationToken token)
    {
        BrokerLinkLog.InboundFailed(Logger, ex, seq, body);
        await AckAsync(position, token);
        End($"the agent could not handle broker message seq {seq}");
    }

    /// <summary>Makes <paramref name="position"/> durable, then acks it.</summary>
    private async ValueTask AckAsync(ulong position, CancellationToken token)
    {
        if (position > _position.LastBrokerSeq)
        {
            _position = _position with { LastBrokerSeq = position };
            _position.Save(_link.StateDirectory);
        }

        if (position > 0)
        {
            await _outbound.Writer.WriteAsync(new AgentMessage { Ack = new Ack { Seq = position } }, token);
        }
    }

    /// <summary>
    /// Spool → stream: first everything above the broker's position (the retransmission), then new items as they are
    /// spooled, never more than the broker's receive window unacknowledged.
    /// </summary>
    private async Task SendSpooledAsync(ulong brokerPosition)
    {
        var token = _stop.Token;
        var spool = _link.Spool;
        var sentUpTo = brokerPosition;
        try
        {
            while (!token.IsCancellationRequested)
            {
                Task windowOpened;
                int room;
                lock (_lock)
                {
                    room = _window - _inFlight.Count;
                    windowOpened = _windowOpened.Task;
                }

                if (room <= 0)
                {
                    await windowOpened.WaitAsync(token);
                    continue;
                }

                var batch = spool.ReadAfter(sentUpTo, Math.Min(room, _link.Options.SendBatch));
                if (batch.Count == 0)
                {
                    await spool.WaitForMessagesAfterAsync(sentUpTo, token);
                    continue;
                }

                foreach (var message in batch)
                {
                    lock (_lock)
                    {
                        _inFlight.Enqueue(message.Seq);
                    }

                    await _outbound.Writer.WriteAsync(message, token);
                    sentUpTo = message.Seq;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            Classify(ex);
        }
        catch (IOException ex)
        {
            BrokerLinkLog.StreamFailed(Logger, ex);
            End("the spool could not be read: " + ex.Message);
        }
    }

    /// <summary>
    /// Answers a broker Heartbeat with one of ours at once. A replica heartbeats its quiet streams together, from one
    /// sweep, so the answers reach it together too: with 5,000 idle streams a lone heartbeat, arriving on its own timer,
    /// cost the broker a few thread wake-ups each and most of its idle CPU (docs/broker.md, "Idle streams").
    /// </summary>
    private void AnswerHeartbeat()
    {
        var now = Time.GetUtcNow();
        LastSent = now;

        // A full queue means the writer is busy sending, which the broker hears as well as a heartbeat.
        _outbound.Writer.TryWrite(Heartbeat(now));
    }

    private AgentMessage Heartbeat(DateTimeOffset now)
    {
        var stats = _link.Inbound.CollectStats() ?? new AgentStats();
        stats.Spool ??= _link.Spool.Stats;
        return new AgentMessage { Heartbeat = new Heartbeat { SentAt = Timestamp.FromDateTimeOffset(now), Stats = stats } };
    }

    /// <summary>
    /// A Heartbeat (with the agent's statistics) after <see cref="AgentLinkLiveness.OwnHeartbeatAfter"/> without sending;
    /// the end of the stream after a peer timeout without hearing anything. Time comes from the injected TimeProvider.
    /// </summary>
    private async Task WatchLivenessAsync()
    {
        var token = _stop.Token;
        var period = TimeSpan.FromTicks(Math.Max(Math.Min(_heartbeatInterval.Ticks, _peerTimeout.Ticks) / 4, TimeSpan.TicksPerMillisecond * 10));
        var quietLimit = AgentLinkLiveness.OwnHeartbeatAfter(_heartbeatInterval, _peerTimeout);
        using var timer = new PeriodicTimer(period, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(token))
            {
                var now = Time.GetUtcNow();
                if (now - LastHeard >= _peerTimeout)
                {
                    End($"nothing heard from the broker for {_peerTimeout}");
                    return;
                }

                if (now - LastSent >= quietLimit)
                {
                    // Counted as sent now: the writer may take a moment, and one heartbeat is enough.
                    LastSent = now;
                    await _outbound.Writer.WriteAsync(Heartbeat(now), token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            Classify(ex);
        }
    }
}
