using System.Collections.Concurrent;
using Relay.Protocol.V1;

namespace Relay.Channel.Agent;

/// <summary>
/// Session tool calls waiting for the agent's ChannelToolResult. Unlike replies, a call is dropped when its tool gives
/// up; calls still waiting during a reconnect are re-sent (their ids make that safe: send_message and launch_session
/// carry client-generated message and launch ids).
/// </summary>
internal sealed class PendingToolCalls
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Registers a call; the task completes with the agent's result.</summary>
    public Task<ChannelToolResult> Add(ChannelToolCall call)
    {
        var entry = new Entry(call);
        _entries[call.RequestId] = entry;
        return entry.Result.Task;
    }

    /// <summary>True while the call waits for its result.</summary>
    public bool IsPending(string requestId) => _entries.ContainsKey(requestId);

    /// <summary>The agent answered; false for an id nobody waits for (for example after a timeout).</summary>
    public bool Complete(ChannelToolResult result)
    {
        if (_entries.TryRemove(result.RequestId, out var entry))
        {
            entry.Result.TrySetResult(result);
            return true;
        }

        return false;
    }

    /// <summary>The agent reported a problem with the call (a Notice naming it); false for an unknown id.</summary>
    public bool Fail(string requestId, ErrorCode code, string message) =>
        Complete(new ChannelToolResult { RequestId = requestId, Error = new ToolError { Code = code, Message = message } });

    /// <summary>The tool stopped waiting.</summary>
    public void Remove(string requestId) => _entries.TryRemove(requestId, out _);

    /// <summary>The calls still waiting, for re-sending after an attach.</summary>
    public IReadOnlyList<ChannelToolCall> Snapshot() => [.. _entries.Values.Select(e => e.Call)];

    private sealed class Entry(ChannelToolCall call)
    {
        public ChannelToolCall Call { get; } = call;

        public TaskCompletionSource<ChannelToolResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
