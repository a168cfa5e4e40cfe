using System.Collections.Concurrent;
using Relay.Protocol.V1;

namespace Relay.Channel.Agent;

/// <summary>What became of a reply handed to the agent.</summary>
/// <param name="Accepted">True once the agent has the reply in its spool.</param>
/// <param name="Duplicate">True when the agent had accepted this reply id before (a re-send).</param>
/// <param name="Error">Why the agent refused it, when it did.</param>
internal sealed record ReplyOutcome(bool Accepted, bool Duplicate, string? Error);

/// <summary>
/// Replies Claude gave that the agent has not confirmed. An entry stays until ReplyAccepted or a refusing Notice
/// arrives, across reconnects: the connection re-sends every entry, with its reply id, after each attach. The tool
/// call that created an entry may give up waiting; the entry does not.
/// </summary>
internal sealed class PendingReplies(int capacity)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _order;

    public int Count => _entries.Count;

    /// <summary>Adds a reply; false when the capacity given at construction is reached.</summary>
    public bool TryAdd(ChannelReply reply, out Task<ReplyOutcome> outcome)
    {
        if (_entries.Count >= capacity)
        {
            outcome = Task.FromResult(new ReplyOutcome(false, false, null));
            return false;
        }

        var entry = new Entry(reply, Interlocked.Increment(ref _order));
        _entries[reply.ReplyId] = entry;
        outcome = entry.Outcome.Task;
        return true;
    }

    /// <summary>True while the reply waits for the agent's confirmation.</summary>
    public bool IsPending(string replyId) => _entries.ContainsKey(replyId);

    /// <summary>The agent has the reply; false for an id that is not pending.</summary>
    public bool Accept(ReplyAccepted accepted)
    {
        if (_entries.TryRemove(accepted.ReplyId, out var entry))
        {
            entry.Outcome.TrySetResult(new ReplyOutcome(true, accepted.Duplicate, null));
            return true;
        }

        return false;
    }

    /// <summary>The agent refused the reply (a Notice naming it): it is not re-sent. False for an unknown id.</summary>
    public bool Refuse(string replyId, string message)
    {
        if (_entries.TryRemove(replyId, out var entry))
        {
            entry.Outcome.TrySetResult(new ReplyOutcome(false, false, message));
            return true;
        }

        return false;
    }

    /// <summary>The replies still waiting, oldest first, for re-sending after an attach.</summary>
    public IReadOnlyList<ChannelReply> Snapshot() =>
        [.. _entries.Values.OrderBy(e => e.Order).Select(e => e.Reply)];

    private sealed class Entry(ChannelReply reply, long order)
    {
        public ChannelReply Reply { get; } = reply;

        public long Order { get; } = order;

        public TaskCompletionSource<ReplyOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
