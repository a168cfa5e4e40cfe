using System.Threading.Channels;
using Relay.Channel.Hosting;
using Relay.Protocol.V1;

namespace Relay.Channel.Agent;

/// <summary>
/// The channel's side of its Attach stream, as the rest of the channel sees it: whether the agent is attached, the
/// session it serves, the bounded queue in front of the stream's single writer, and what waits for the agent's answer.
/// <see cref="AgentConnection"/> owns the stream itself and keeps this up to date.
/// </summary>
internal sealed class AgentAttach
{
    private readonly Channel<ChannelMessage> _outbound;
    private readonly Lock _gate = new();
    private TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Attachment? _attachment;
    private McpInitialized? _mcpInitialized;

    public AgentAttach(IOptions<RelayChannelOptions> options)
    {
        var o = options.Value;
        _outbound = System.Threading.Channels.Channel.CreateBounded<ChannelMessage>(new BoundedChannelOptions(o.OutboundCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Replies = new PendingReplies(o.MaxPendingReplies);
    }

    /// <summary>Replies the agent has not confirmed yet.</summary>
    public PendingReplies Replies { get; }

    /// <summary>Session tool calls waiting for a result.</summary>
    public PendingToolCalls ToolCalls { get; } = new();

    /// <summary>True while an Attach stream is up and the agent has answered ChannelHello.</summary>
    public bool IsAttached
    {
        get
        {
            lock (_gate)
            {
                return _attached.Task.IsCompleted;
            }
        }
    }

    /// <summary>The session as the agent last described it; null before the first attach.</summary>
    public Attachment? Attachment
    {
        get
        {
            lock (_gate)
            {
                return _attachment;
            }
        }
    }

    /// <summary>The MCP handshake summary, once Claude Code has completed it; re-sent after every attach.</summary>
    public McpInitialized? McpInitialized
    {
        get
        {
            lock (_gate)
            {
                return _mcpInitialized;
            }
        }
    }

    /// <summary>The stream's single writer drains this.</summary>
    internal ChannelReader<ChannelMessage> Outbound => _outbound.Reader;

    /// <summary>
    /// Queues a message for the agent. Messages queued while no stream is up wait for the next one (the queue is
    /// bounded: a full queue makes the caller wait).
    /// </summary>
    public ValueTask EnqueueAsync(ChannelMessage message, CancellationToken cancellationToken) =>
        _outbound.Writer.WriteAsync(message, cancellationToken);

    /// <summary>Waits until the agent is attached; false when <paramref name="timeout"/> passes first.</summary>
    public async Task<bool> WaitAttachedAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        Task attached;
        lock (_gate)
        {
            attached = _attached.Task;
        }

        try
        {
            await attached.WaitAsync(timeout, time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Records the handshake summary and queues it for the agent.</summary>
    public ValueTask SetMcpInitializedAsync(McpInitialized initialized, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _mcpInitialized = initialized;
        }

        return EnqueueAsync(new ChannelMessage { McpInitialized = initialized }, cancellationToken);
    }

    internal void MarkAttached(Attachment attachment)
    {
        lock (_gate)
        {
            _attachment = attachment;
            _attached.TrySetResult();
        }
    }

    internal void UpdateAttachment(Attachment attachment)
    {
        lock (_gate)
        {
            _attachment = attachment;
        }
    }

    internal void MarkDetached()
    {
        lock (_gate)
        {
            if (_attached.Task.IsCompleted)
            {
                _attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }
}
