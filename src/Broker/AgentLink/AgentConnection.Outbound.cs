using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentConnection
{
    private long _lastSentTicks;

    private DateTimeOffset LastSent
    {
        get => new(Volatile.Read(ref _lastSentTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastSentTicks, value.UtcTicks);
    }

    /// <summary>
    /// Queues a message for the agent without waiting. The queue holds a full send window plus acks and heartbeats, so
    /// it fills only when the agent stops reading: then the stream ends with SLOW_CONSUMER and the agent resumes later
    /// from its position, instead of the broker buffering without bound.
    /// </summary>
    private bool TrySend(BrokerMessage message)
    {
        if (_outbound.Writer.TryWrite(message))
        {
            return true;
        }

        if (!_outbound.Reader.Completion.IsCompleted)
        {
            End(new ConnectionEnd(ConnectionEndKind.SlowConsumer,
                $"The agent stopped reading: {_services.Options.OutboundQueueCapacity} messages are waiting for it. Reconnect to resume."));
        }

        return false;
    }

    /// <summary>The only writer of the response stream. While more messages wait, writes are buffered and flushed together.</summary>
    private async Task PumpAsync()
    {
        var reader = _outbound.Reader;
        var token = _stopWriting.Token;
        try
        {
            while (await reader.WaitToReadAsync(token))
            {
                while (reader.TryRead(out var message))
                {
                    _responses.WriteOptions = reader.Count > 0 ? WriteOptions.Buffered : WriteOptions.Default;
                    await _responses.WriteAsync(message, token);
                    LastSent = _services.Time.GetUtcNow();
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The agent is gone or the last flush timed out; the reader and the call's token end the rest.
            End(new ConnectionEnd(ConnectionEndKind.AgentGone, "The agent stopped taking messages."));
        }
    }
}
