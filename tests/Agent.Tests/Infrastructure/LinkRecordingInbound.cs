using System.Collections.Concurrent;
using Relay.Agent.Link;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Infrastructure;

/// <summary>An <see cref="IBrokerInbound"/> that records what the link hands it and lets tests wait for it.</summary>
internal sealed class LinkRecordingInbound : IBrokerInbound
{
    private readonly Lock _lock = new();
    private readonly List<Welcome> _welcomes = [];
    private readonly List<BrokerMessage> _sequenced = [];
    private readonly List<BrokerMessage> _state = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _statsCollected;

    /// <summary>Runs inside HandleSequencedAsync (before it returns); tests make it slow or failing.</summary>
    public Func<BrokerMessage, CancellationToken, Task>? OnSequenced { get; set; }

    public int StatsCollected => Volatile.Read(ref _statsCollected);

    public ConcurrentQueue<string> Calls { get; } = new();

    public IReadOnlyList<Welcome> Welcomes
    {
        get
        {
            lock (_lock)
            {
                return [.. _welcomes];
            }
        }
    }

    public IReadOnlyList<BrokerMessage> Sequenced
    {
        get
        {
            lock (_lock)
            {
                return [.. _sequenced];
            }
        }
    }

    public IReadOnlyList<BrokerMessage> State
    {
        get
        {
            lock (_lock)
            {
                return [.. _state];
            }
        }
    }

    public ValueTask OnWelcomeAsync(Welcome welcome, CancellationToken cancellationToken)
    {
        Calls.Enqueue("welcome");
        lock (_lock)
        {
            _welcomes.Add(welcome);
        }

        Changed();
        return ValueTask.CompletedTask;
    }

    public async ValueTask HandleSequencedAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        Calls.Enqueue("sequenced:" + message.Seq);
        if (OnSequenced is { } hook)
        {
            await hook(message, cancellationToken);
        }

        lock (_lock)
        {
            _sequenced.Add(message);
        }

        Changed();
    }

    public void HandleState(BrokerMessage message)
    {
        lock (_lock)
        {
            _state.Add(message);
        }

        Changed();
    }

    public AgentStats CollectStats()
    {
        Interlocked.Increment(ref _statsCollected);
        Changed();
        return new AgentStats { LiveSessions = 1 };
    }

    /// <summary>Waits until <paramref name="condition"/> holds (checked whenever something is recorded).</summary>
    public async Task WaitUntilAsync(Func<LinkRecordingInbound, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _changed.Task;
            }

            if (condition(this))
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private void Changed()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
