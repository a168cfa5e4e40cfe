using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Local.Fakes;

/// <summary>An in-memory spool that records every appended message and lets a test wait for one.</summary>
internal sealed class FakeSpool : IAgentSpool
{
    private readonly Lock _lock = new();
    private readonly List<AgentMessage> _messages = [];
    private readonly List<(Func<AgentMessage, bool> Match, TaskCompletionSource<AgentMessage> Found)> _waiters = [];
    private ulong _next = 1;

    public string Epoch { get; } = "test-epoch";

    public ulong NextSeq
    {
        get
        {
            lock (_lock)
            {
                return _next;
            }
        }
    }

    public SpoolStats Stats
    {
        get
        {
            lock (_lock)
            {
                return new SpoolStats { Items = (ulong)_messages.Count, Bytes = 100, CapacityBytes = 1_000_000 };
            }
        }
    }

    public IReadOnlyList<AgentMessage> Messages
    {
        get
        {
            lock (_lock)
            {
                return _messages.ToList();
            }
        }
    }

    public IReadOnlyList<T> All<T>(Func<AgentMessage, T?> select)
        where T : class => Messages.Select(select).OfType<T>().ToList();

    public ValueTask<ulong> AppendAsync(AgentMessage message, CancellationToken cancellationToken) => AppendNowAsync(() => message, cancellationToken);

    /// <summary>When set, appends given as a composer wait for it before they are composed (a busy spool writer).</summary>
    public Task? ComposeGate { get; set; }

    /// <summary>Composes the message under the lock that gives it its seq, as the disk spool does.</summary>
    public async ValueTask<ulong> AppendAsync(Func<AgentMessage> compose, CancellationToken cancellationToken)
    {
        if (ComposeGate is { } gate)
        {
            await gate.WaitAsync(cancellationToken);
        }

        return await AppendNowAsync(compose, cancellationToken);
    }

    private ValueTask<ulong> AppendNowAsync(Func<AgentMessage> compose, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        List<TaskCompletionSource<AgentMessage>> found;
        ulong seq;
        AgentMessage message;
        lock (_lock)
        {
            message = compose();
            seq = _next++;
            message.Seq = seq;
            _messages.Add(message);
            var matched = _waiters.Where(w => w.Match(message)).ToList();
            _waiters.RemoveAll(matched.Contains);
            found = matched.Select(m => m.Found).ToList();
        }

        foreach (var waiter in found)
        {
            waiter.TrySetResult(message);
        }

        return ValueTask.FromResult(seq);
    }

    /// <summary>The first message (already spooled or still to come) that <paramref name="match"/> accepts.</summary>
    public Task<AgentMessage> WaitForAsync(Func<AgentMessage, bool> match, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_messages.FirstOrDefault(match) is { } existing)
            {
                return Task.FromResult(existing);
            }

            var found = new TaskCompletionSource<AgentMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
            return found.Task.WaitAsync(cancellationToken);
        }
    }

    public IReadOnlyList<AgentMessage> ReadAfter(ulong afterSeq, int max) => Messages.Where(m => m.Seq > afterSeq).Take(max).ToList();

    public ValueTask WaitForMessagesAfterAsync(ulong afterSeq, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask AcknowledgeAsync(ulong seq, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
