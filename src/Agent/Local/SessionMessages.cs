using Relay.Agent.Sessions;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// Outcomes of send_message. The tool call waits briefly for the broker's first SessionMessageStatus; any status
/// nobody waits for (a later EXPIRED or FAILED, or one that came after the wait) goes to the sending session's channel.
/// </summary>
internal sealed class SessionMessages(SessionTracker tracker, ChannelRegistry channels)
{
    private const int SenderMemory = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, TaskCompletionSource<SessionMessageStatus>> _waiters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _senders = new(StringComparer.Ordinal);
    private readonly Queue<string> _senderOrder = new();

    /// <summary>Remembers who sent <paramref name="messageId"/>; false when it was sent before (a re-sent tool call).</summary>
    public bool Register(string messageId, long sessionId)
    {
        lock (_lock)
        {
            if (!_senders.TryAdd(messageId, sessionId))
            {
                return false;
            }

            _senderOrder.Enqueue(messageId);
            while (_senderOrder.Count > SenderMemory)
            {
                _senders.Remove(_senderOrder.Dequeue());
            }

            return true;
        }
    }

    /// <summary>Starts waiting for the message's first status (before it is spooled, so a fast answer is not missed).</summary>
    public TaskCompletionSource<SessionMessageStatus> Expect(string messageId)
    {
        var waiter = new TaskCompletionSource<SessionMessageStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _waiters[messageId] = waiter;
        }

        return waiter;
    }

    /// <summary>Waits up to <paramref name="wait"/> for the status <paramref name="waiter"/> expects; null when none came.</summary>
    public async Task<SessionMessageStatus?> WaitAsync(
        string messageId, TaskCompletionSource<SessionMessageStatus> waiter, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            return await waiter.Task.WaitAsync(wait, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            lock (_lock)
            {
                if (_waiters.TryGetValue(messageId, out var current) && current == waiter)
                {
                    _waiters.Remove(messageId);
                }
            }
        }
    }

    /// <summary>A status from the broker: to the waiting tool call, else to the sender's channel.</summary>
    public void OnStatus(SessionMessageStatus status)
    {
        long sender;
        lock (_lock)
        {
            if (_waiters.Remove(status.MessageId, out var waiter) && waiter.TrySetResult(status))
            {
                return;
            }

            if (!_senders.TryGetValue(status.MessageId, out sender))
            {
                return; // sent before the agent restarted: the broker keeps the outcome in history
            }
        }

        if (channels.Get(tracker.Get(sender)?.ChannelId) is { } channel)
        {
            channel.TrySend(new AgentToChannelMessage { SessionMessageStatus = status });
        }
    }
}
