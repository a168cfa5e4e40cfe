using Microsoft.Extensions.Options;

namespace Relay.Broker.AgentLink;

/// <summary>
/// Bounds how many agent streams of this replica store an inbound batch at once (AgentLink:MaxConcurrentBatches).
/// </summary>
/// <remarks>
/// Every batch holds a pooled database connection for its whole transaction, and batches take the event-order lock
/// (EventIngestWriter.EventOrderLockKey) first, so they run one at a time anyway. Without a bound, N busy agents park N
/// connections on that lock: at about 100 agents the pool and PostgreSQL's max_connections run out and batches fail
/// (53300 "too many clients"), and everything else on the replica (Admin, Watch, delivery) is starved of connections.
/// With the bound, an agent waits here holding nothing, and the messages that arrive meanwhile join its next batch, so
/// batches grow with the load instead of transactions multiplying.
/// </remarks>
internal sealed class IngestGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly Slot _slot;

    public IngestGate(IOptions<AgentLinkOptions> options)
    {
        _slots = new SemaphoreSlim(options.Value.MaxConcurrentBatches, options.Value.MaxConcurrentBatches);
        _slot = new Slot(_slots);
    }

    /// <summary>Waits for a slot; dispose the result to give it back.</summary>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        return _slot;
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
