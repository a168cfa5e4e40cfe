namespace Relay.Broker.Persistence;

/// <summary>
/// A fixed number of slots for work that holds a pooled database connection while it queues on the event-order lock:
/// the rest waits here, holding nothing. IngestGate and PromptSendGate say which work and why.
/// </summary>
internal abstract class SlotGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly Slot _slot;
    private int _waiting;

    protected SlotGate(int slots)
    {
        _slots = new SemaphoreSlim(slots, slots);
        _slot = new Slot(_slots);
    }

    /// <summary>Callers waiting for a slot right now.</summary>
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
