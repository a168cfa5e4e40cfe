using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    private const int MaxToolCallsInFlight = 8;

    private readonly SemaphoreSlim _toolCalls = new(MaxToolCallsInFlight, MaxToolCallsInFlight);
    private long _committedSeq;
    private long _submittedSeq;
    private long _handedOver;
    private long _lastReadSeq;
    private int _unackedInbound;
    private long _lastHeardTicks;

    private volatile bool _waitingForBudget;

    /// <summary>Sequenced messages this stream handed to the commit loop, in a batch of their own or joining one (for tests).</summary>
    internal long MessagesHandedOver => Interlocked.Read(ref _handedOver);

    private DateTimeOffset LastHeard
    {
        get => new(Volatile.Read(ref _lastHeardTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastHeardTicks, value.UtcTicks);
    }

    /// <summary>
    /// Request stream → inbound queue, checking what can be checked without the database. Reads only while the replica's
    /// InboundBudget has room: unread messages wait in HTTP/2 flow control, not as objects in the broker's memory.
    /// </summary>
    private async Task ReadAsync()
    {
        var token = _stopReading.Token;
        try
        {
            while (true)
            {
                var room = _budget.WaitForRoomAsync(token);
                if (!room.IsCompletedSuccessfully)
                {
                    await WaitForBudgetAsync(room);
                }

                if (!await _requests.MoveNext(token))
                {
                    break;
                }

                var message = _requests.Current;
                LastHeard = _services.Time.GetUtcNow();
                if (Check(message) is { } violation)
                {
                    End(violation);
                    return;
                }

                if (message.BodyCase == AgentMessage.BodyOneofCase.Heartbeat)
                {
                    // Taken here, not queued: an idle stream's only traffic is a heartbeat every interval, and handing
                    // each to the processor was one more thread-pool hop per heartbeat (docs/broker.md, idle streams).
                    OnHeartbeat(message.Heartbeat);
                    continue;
                }

                var size = message.Seq > 0 ? message.CalculateSize() : 0;
                if (message.Seq > 0)
                {
                    _budget.Add(size);
                }

                var item = new InboundItem(message, Size: size);
                if (size > _services.Options.MaxMessageBytes)
                {
                    // Refused on its own, neighbours unharmed; acked so the agent does not resend it forever. It keeps its
                    // size: it is held until its batch commits, and AfterCommit gives that back to the InboundBudget.
                    item = new InboundItem(
                        message,
                        ErrorCode.ResourceExhausted,
                        $"Message seq {message.Seq} is {size} bytes; the broker accepts at most {_services.Options.MaxMessageBytes} (Welcome.max_message_bytes).",
                        size);
                }

                await _inbound.Writer.WriteAsync(item, token);
            }

            End(new ConnectionEnd(ConnectionEndKind.AgentClosed, "The agent closed its stream."));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Told to stop reading.
        }
        catch (RpcException ex)
        {
            // The gRPC layer refused a frame (larger than its limit, undecodable): the stream cannot go on.
            End(new ConnectionEnd(ConnectionEndKind.ProtocolError, ex.Status.Detail, ex.StatusCode));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The layer's read also stops on the call's own token (server shutdown): that one is a drain, not a loss.
            if (_call.CancellationToken.IsCancellationRequested)
            {
                OnCallCancelled();
            }
            else
            {
                End(new ConnectionEnd(ConnectionEndKind.AgentGone, "The agent's stream broke."));
            }
        }
        finally
        {
            _inbound.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Waits for room in the replica's InboundBudget. Meanwhile the agent's messages, heartbeats among them, wait unread:
    /// the liveness check does not count that time as silence, and it starts again when reading does.
    /// </summary>
    private async Task WaitForBudgetAsync(ValueTask room)
    {
        _waitingForBudget = true;
        try
        {
            await room;
        }
        finally
        {
            LastHeard = _services.Time.GetUtcNow();
            _waitingForBudget = false;
        }
    }

    /// <summary>An agent heartbeat: its arrival already counted as hearing from the agent; its statistics are kept.</summary>
    private void OnHeartbeat(Heartbeat heartbeat)
    {
        if (heartbeat.Stats is { } stats)
        {
            LastStats = stats;
        }
    }

    /// <summary>The protocol rules a message must follow on this stream; null when it does.</summary>
    private ConnectionEnd? Check(AgentMessage message)
    {
        var sequenced = IsSequenced(message.BodyCase);
        if (message.BodyCase == AgentMessage.BodyOneofCase.None || message.BodyCase == AgentMessage.BodyOneofCase.Hello)
        {
            return Violation(message.BodyCase == AgentMessage.BodyOneofCase.Hello ? "Hello was sent twice." : "A message without a body arrived.");
        }

        if (sequenced != (message.Seq > 0))
        {
            return Violation(sequenced
                ? $"A {message.BodyCase} needs a seq >= 1."
                : $"A {message.BodyCase} is unsequenced and must carry seq 0 (it has {message.Seq}).");
        }

        if (!sequenced)
        {
            return null;
        }

        var seq = (long)message.Seq;
        if (seq <= _lastReadSeq)
        {
            return Violation($"Seq went backwards: {seq} after {_lastReadSeq}.");
        }

        _lastReadSeq = seq;
        if (Interlocked.Increment(ref _unackedInbound) > _services.Options.ReceiveWindow)
        {
            return new ConnectionEnd(ConnectionEndKind.ProtocolError,
                $"More than {_services.Options.ReceiveWindow} unacknowledged messages in flight (Welcome.receive_window).", StatusCode.ResourceExhausted);
        }

        return null;
    }

    private static ConnectionEnd Violation(string detail) => new(ConnectionEndKind.ProtocolError, detail, StatusCode.InvalidArgument);

    private static bool IsSequenced(AgentMessage.BodyOneofCase body) => body is not (
        AgentMessage.BodyOneofCase.Hello or AgentMessage.BodyOneofCase.Ack or AgentMessage.BodyOneofCase.Heartbeat
        or AgentMessage.BodyOneofCase.ToolCall or AgentMessage.BodyOneofCase.Notice or AgentMessage.BodyOneofCase.None);

    /// <summary>
    /// Inbound queue → batches: each batch is one transaction, acked after it commits, in the order read. A batch is
    /// handed to the commit loop as soon as it has a message, and what arrives before the loop takes it joins it; while it
    /// commits, the next one is handed over the same way (at most two). So the loop has the next batch the moment the
    /// first commit returns, without waiting for this stream to take that outcome first (a prompt's reply usually arrives
    /// while its receipt commits: docs/benchmarks.md), and a busy stream's batches still take everything that arrived
    /// meanwhile. The second is stored only once the machine's position has reached the first's messages
    /// (<see cref="InboundBatch.After"/>), so a first that fails never lets the second through.
    /// </summary>
    private async Task ProcessAsync()
    {
        var reader = _inbound.Reader;
        var token = _stop.Token;
        Submitted? committing = null;
        Submitted? queued = null;
        try
        {
            long? carried = null;
            long carriedSince = 0;
            while (true)
            {
                if (committing is not null)
                {
                    if (!await reader.ReadableBeforeAsync(committing.Outcome, token))
                    {
                        await TakeAsync(committing, token);
                        (committing, queued) = (queued, null);
                        continue;
                    }
                }
                else if (carried is null && !await reader.WaitToReadAsync(token))
                {
                    break;
                }

                // Under load, what arrives while this stream waits for its batch's group commit joins its next batch.
                var batch = new List<InboundItem>();
                long? ack = carried;
                var continuing = carried is not null;
                carried = null;
                var bytes = 0L;
                var (maxMessages, maxBytes) = (_services.Options.MaxBatchMessages, _services.Options.MaxBatchBytes);
                while (batch.Count < maxMessages
                       && reader.TryPeek(out var next)
                       && (batch.Count == 0 || bytes + next.Size <= maxBytes) // a large message starts the next batch
                       && reader.TryRead(out var item))
                {
                    var message = item.Message;
                    switch (message.BodyCase)
                    {
                        case AgentMessage.BodyOneofCase.Ack:
                            if ((long)message.Ack.Seq > Volatile.Read(ref _assignedBrokerSeq))
                            {
                                End(Violation($"Ack of broker seq {message.Ack.Seq}, which was never sent."));
                                return;
                            }

                            ack = Math.Max(ack ?? 0, (long)message.Ack.Seq);
                            break;
                        case AgentMessage.BodyOneofCase.ToolCall:
                            StartToolCall(message.ToolCall);
                            break;
                        case AgentMessage.BodyOneofCase.Notice:
                            AgentLinkLog.AgentNotice(_services.Logger, Machine.Name, message.Notice.Code, message.Notice.Message);
                            break;
                        default:
                            batch.Add(item);
                            bytes += item.Size;
                            break;
                    }
                }

                if (batch.Count > 0 && (queued ?? committing)?.Seal.TryAppend(batch, maxMessages, maxBytes) == true)
                {
                    // The commit loop has not taken the last batch yet: these join it.
                    _submittedSeq = (long)batch[^1].Message.Seq;
                    Interlocked.Add(ref _handedOver, batch.Count);
                    batch.Clear();
                }

                if (batch.Count == 0 && ack is null)
                {
                    continue;
                }

                if (batch.Count > 0)
                {
                    if (committing is null)
                    {
                        committing = Submit(batch, ack, token);
                    }
                    else if (queued is null)
                    {
                        queued = Submit(batch, ack, token);
                    }
                    else
                    {
                        // Two handed over already: the first must return before a third goes.
                        await TakeAsync(committing, token);
                        (committing, queued) = (queued, Submit(batch, ack, token));
                    }

                    continue;
                }

                // An ack alone opens the agent's window now; recording it waits a moment for the batch that usually
                // follows (a prompt's receipt follows its delivery's ack) and rides in its transaction.
                OpenWindow(ack!.Value);
                if (!continuing)
                {
                    carriedSince = _services.Time.GetTimestamp();
                }

                if (committing is not null)
                {
                    // Taken by the next batch, or stored alone (below) once the ones handed over returned.
                    carried = ack;
                    continue;
                }

                // Bounded overall: heartbeats or more acks alone arriving meanwhile do not keep it waiting.
                var linger = continuing ? _services.Options.AckLinger - _services.Time.GetElapsedTime(carriedSince) : _services.Options.AckLinger;
                if (await MoreSoonAsync(reader, linger, token))
                {
                    carried = ack;
                    continue;
                }

                // Alone after all: a transaction of its own (no event-order lock), bounded like handshakes, so that
                // thousands of streams acking at once do not empty the connection pool.
                using var slot = await _services.IngestGate.EnterAsync(token);
                AfterCommit(batch, ack, await StoreAsync(batch, ack, after: 0, token)); // moves no position: nothing to wait for
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Abandoned: whatever was not committed was never acked, and the agent resends it.
        }
        catch (ConnectionReplacedException)
        {
            End(new ConnectionEnd(ConnectionEndKind.Replaced, "A newer stream for this machine replaced this one."));
        }
        catch (MachineRevokedException)
        {
            End(ConnectionEnd.Revoked(Machine.Name));
        }
        catch (Exception ex)
        {
            // Database down, a bug: nothing of the failed batch was committed or acked, and the agent resends it.
            AgentLinkLog.BatchFailed(_services.Logger, ex, _inbound.Reader.Count, Machine.Name);
            End(new ConnectionEnd(ConnectionEndKind.Failure, "The broker could not store the agent's messages; reconnect to resume."));
        }
        finally
        {
            // A batch left in flight when the stream ended is never acked (the agent resends it); its failure is moot.
            foreach (var left in new[] { committing, queued })
            {
                _ = left?.Outcome.ContinueWith(static t => t.Exception, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Hands <paramref name="batch"/> to the processor; its messages follow every batch submitted before.</summary>
    private Submitted Submit(List<InboundItem> batch, long? ack, CancellationToken token)
    {
        var after = _submittedSeq;
        _submittedSeq = Math.Max(after, (long)batch[^1].Message.Seq); // seqs only grow on a stream (Check)
        var seal = new BatchSeal(batch);
        Interlocked.Add(ref _handedOver, batch.Count);
        return new Submitted(batch, ack, after, seal, StoreAsync(batch, ack, after, token, seal));
    }

    /// <summary>Waits for <paramref name="submitted"/> to commit and acts on it.</summary>
    private async Task TakeAsync(Submitted submitted, CancellationToken token)
    {
        BatchOutcome outcome;
        try
        {
            outcome = await submitted.Outcome;
        }
        catch (PredecessorNotStoredException) when (!token.IsCancellationRequested)
        {
            // Its predecessor broke a database rule and was stored again message by message (StoreAsync) after this
            // one had been refused; this one follows it now. A predecessor that failed otherwise ended the stream.
            outcome = await StoreAsync(submitted.Batch, submitted.Ack, submitted.After, token);
        }

        AfterCommit(submitted.Batch, submitted.Ack, outcome);
    }

    /// <summary>Acts on a committed <paramref name="batch"/> (sequenced messages only; empty for an ack stored alone).</summary>
    private void AfterCommit(List<InboundItem> batch, long? ack, BatchOutcome outcome)
    {
        var sequenced = batch.Count;
        var bytes = 0L;
        foreach (var item in batch)
        {
            bytes += item.Size;
        }

        Volatile.Write(ref _committedSeq, outcome.CommittedSeq);
        Interlocked.Add(ref _unackedInbound, -sequenced);
        _budget.Release(sequenced, bytes);
        // Bindings and notices first, then the Ack: an agent that sees the Ack already knows what the batch caused.
        foreach (var binding in outcome.Bindings)
        {
            TrySend(new BrokerMessage { SessionBinding = binding });
        }

        foreach (var reply in outcome.Replies)
        {
            TrySend(reply);
        }

        if (sequenced > 0)
        {
            // The cumulative Ack covers this batch and any retransmissions in it: everything up to here is committed.
            TrySend(new BrokerMessage { Ack = new Ack { Seq = (ulong)outcome.CommittedSeq } });
        }

        foreach (var topic in outcome.Topics)
        {
            _services.Signals.Publish(topic);
        }

        if (ack is { } acked)
        {
            OpenWindow(acked);
        }
    }

    /// <summary>The agent acknowledged broker messages up to <paramref name="acked"/>: room in its window.</summary>
    private void OpenWindow(long acked)
    {
        if (acked > Volatile.Read(ref _ackedBrokerSeq))
        {
            Volatile.Write(ref _ackedBrokerSeq, acked);
            WakeDelivery();
        }
    }

    /// <summary>Whether more arrives on the stream within <paramref name="linger"/>.</summary>
    private async Task<bool> MoreSoonAsync(ChannelReader<InboundItem> reader, TimeSpan linger, CancellationToken token)
    {
        if (linger <= TimeSpan.Zero)
        {
            return false;
        }

        using var soon = new CancellationTokenSource(linger, _services.Time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(token, soon.Token);
        try
        {
            return await reader.WaitToReadAsync(either.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Stores a batch. A batch that breaks a database rule (a bad value the checks missed) is stored again message by
    /// message, so one bad message is refused alone instead of stalling the stream behind it forever.
    /// </summary>
    private async Task<BatchOutcome> StoreAsync(List<InboundItem> batch, long? ack, long after, CancellationToken token, BatchSeal? seal = null)
    {
        try
        {
            return await _services.Inbound.ProcessAsync(Machine, Id, _cache, _memory, batch, ack, rejectAll: null, after, token, seal);
        }
        catch (Exception ex) when (DataError(ex) is { } error && !token.IsCancellationRequested)
        {
            if (batch.Count <= 1)
            {
                AgentLinkLog.MessageRefusedByDatabase(_services.Logger, ex, batch.Count == 0 ? 0 : (long)batch[0].Message.Seq, Machine.Name);
                return await _services.Inbound.ProcessAsync(Machine, Id, _cache, _memory, batch, ack, $"The broker cannot store this message: {error}", after, token);
            }

            AgentLinkLog.BatchIsolated(_services.Logger, ex, Machine.Name, batch.Count);
            var bindings = new List<SessionBinding>();
            var replies = new List<BrokerMessage>();
            var topics = new HashSet<string>(StringComparer.Ordinal);
            long committed = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var last = i == batch.Count - 1;
                var one = await StoreAsync([batch[i]], last ? ack : null, after, token);
                bindings.AddRange(one.Bindings);
                replies.AddRange(one.Replies);
                topics.UnionWith(one.Topics);
                committed = one.CommittedSeq;
            }

            return new BatchOutcome(committed, bindings, replies, topics);
        }
    }

    private static string? DataError(Exception ex) => ex switch
    {
        PostgresException { SqlState: var state } pg when state.StartsWith("22", StringComparison.Ordinal) || state.StartsWith("23", StringComparison.Ordinal) => pg.MessageText,
        DbUpdateException { InnerException: { } inner } => DataError(inner),
        _ => null,
    };

    private void StartToolCall(ToolCall call)
    {
        if (_services.Tools is not { } tools)
        {
            TrySend(ToolError(call.RequestId, ErrorCode.Unavailable, "Session tools are not served by this broker yet."));
            return;
        }

        if (!_toolCalls.Wait(0, CancellationToken.None))
        {
            TrySend(ToolError(call.RequestId, ErrorCode.ResourceExhausted, $"At most {MaxToolCallsInFlight} tool calls may run at once per machine; retry shortly."));
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var result = await tools.HandleAsync(Machine, call, _stop.Token);
                result.RequestId = call.RequestId;
                TrySend(new BrokerMessage { ToolResult = result });
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                AgentLinkLog.ToolCallFailed(_services.Logger, ex, call.RequestId, Machine.Name);
                TrySend(ToolError(call.RequestId, ErrorCode.Internal, "The broker could not answer this tool call."));
            }
            catch (OperationCanceledException)
            {
                // The stream ended; the agent retries on its next stream or times the call out.
            }
            finally
            {
                _toolCalls.Release();
            }
        }, CancellationToken.None);
    }

    /// <summary>A batch handed to the processor, not yet taken: <paramref name="After"/> as it was submitted with.</summary>
    private sealed record Submitted(List<InboundItem> Batch, long? Ack, long After, BatchSeal Seal, Task<BatchOutcome> Outcome);

    private static BrokerMessage ToolError(string requestId, ErrorCode code, string message) => new()
    {
        ToolResult = new ToolResult { RequestId = requestId, Error = new Protocol.V1.ToolError { Code = code, Message = message } },
    };
}
