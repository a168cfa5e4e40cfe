using System.Threading.Channels;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// One relay-channel's Attach stream. Anything may queue a message for it without waiting; a bounded queue in front of
/// the one writer (<see cref="PumpAsync"/>) keeps a channel that stopped reading from growing the agent's memory: when
/// it is full the stream is closed (the channel re-attaches and gets every unacked prompt again).
/// </summary>
internal sealed class ChannelConnection : IDisposable
{
    private readonly Channel<AgentToChannelMessage> _outbound;
    private readonly CancellationTokenSource _closing = new();
    private string? _closeReason;

    public ChannelConnection(string id, ChannelHello hello, long sessionId, int capacity)
    {
        Id = id;
        Hello = hello;
        SessionId = sessionId;
        _outbound = Channel.CreateBounded<AgentToChannelMessage>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The agent-generated channel id (Attachment.channel_id).</summary>
    public string Id { get; }

    public ChannelHello Hello { get; }

    /// <summary>The tracker's key of the session it serves.</summary>
    public long SessionId { get; }

    /// <summary>Claude Code's version from the MCP handshake, once known.</summary>
    public string ClaudeCodeVersion { get; set; } = string.Empty;

    /// <summary>Fires when the agent closes the stream (replaced, not reading, shutting down).</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Why the agent closed it; null while open.</summary>
    public string? CloseReason => Volatile.Read(ref _closeReason);

    /// <summary>Queues <paramref name="message"/>; false when the stream is closed or its queue is full (then it is closed).</summary>
    public bool TrySend(AgentToChannelMessage message)
    {
        if (_outbound.Writer.TryWrite(message))
        {
            return true;
        }

        if (CloseReason is not null)
        {
            return false; // ending already; whatever was not written is re-sent after a re-attach
        }

        Close(new Notice
        {
            Code = ErrorCode.SlowConsumer,
            Message = "The channel stopped reading; re-attach to get the unacknowledged prompts again.",
            Closing = true,
        }, "not reading");
        return false;
    }

    /// <summary>Ends the stream: <paramref name="notice"/> is the last message written, then the agent stops reading.</summary>
    public void Close(Notice? notice, string reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is not null)
        {
            return;
        }

        if (notice is not null)
        {
            // A full queue cannot take the notice; the stream ends without it.
            _outbound.Writer.TryWrite(new AgentToChannelMessage { Notice = notice });
        }

        _outbound.Writer.TryComplete();
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream already ended; a producer that still held the connection changes nothing.
        }
    }

    /// <summary>No more messages (the stream is ending): the pump drains what is queued and returns.</summary>
    public void Complete()
    {
        Interlocked.CompareExchange(ref _closeReason, "stream ended", null);
        _outbound.Writer.TryComplete();
    }

    /// <summary>The only writer of the response stream; batches writes while more messages wait.</summary>
    public async Task PumpAsync(IServerStreamWriter<AgentToChannelMessage> responses, CancellationToken cancellationToken)
    {
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var message))
                {
                    responses.WriteOptions = reader.Count > 0 ? WriteOptions.Buffered : WriteOptions.Default;
                    await responses.WriteAsync(message, cancellationToken);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The channel went away; the reader side ends the call.
            Close(null, "the channel went away");
        }
    }

    public void Dispose() => _closing.Dispose();
}
