using Microsoft.Extensions.Options;

namespace Relay.Broker.Prompts;

/// <summary>
/// Bounds how many SendPrompt calls of this replica store their prompt at once (Prompts:MaxConcurrentSends).
/// </summary>
/// <remarks>
/// Storing a prompt takes the event-order lock first thing in its transaction (see TimelineWriter), so stores run one at
/// a time anyway, each holding a pooled connection while it waits. Unbounded, a burst of SendPrompt calls (a script, a
/// dashboard, a CI fan-out) parks one connection per call on that lock: the pool and PostgreSQL's max_connections run
/// out (53300 "too many clients"), and the agents' batches and the outbox, which deliver those very prompts, wait for a
/// connection behind them. With the bound, a call waits here holding nothing, and PostgreSQL's lock queue never holds
/// more than a few of them ahead of an agent's batch. The agents' own bound is AgentLink's IngestGate; the two are
/// separate so that a burst of prompts never queues ahead of the batches that carry their delivery receipts and replies.
/// </remarks>
internal sealed class PromptSendGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly Slot _slot;
    private int _waiting;

    public PromptSendGate(IOptions<PromptOptions> options)
    {
        _slots = new SemaphoreSlim(options.Value.MaxConcurrentSends, options.Value.MaxConcurrentSends);
        _slot = new Slot(_slots);
    }

    /// <summary>Calls waiting for a slot right now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Waits for a slot; dispose the result to give it back.</summary>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return _slot;
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
