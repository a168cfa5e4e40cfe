using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Ingest;

namespace Relay.Broker.AgentLink;

/// <summary>A batch prepared from its stream's memory whose one round trip has been sent (InboundProcessor.Pipeline.cs).</summary>
internal sealed class MemoryAttempt(
    InboundProcessor.PendingBatch pending, RelayDbContext db, IDbContextTransaction transaction, NpgsqlBatch commands, PreparedBatch prepared, PendingCommit commit, long started)
    : IAsyncDisposable
{
    public InboundProcessor.PendingBatch Pending { get; } = pending;

    public RelayDbContext Db { get; } = db;

    public IDbContextTransaction Transaction { get; } = transaction;

    public NpgsqlBatch Commands { get; } = commands;

    public PreparedBatch Prepared { get; } = prepared;

    public PendingCommit Commit { get; } = commit;

    public long Started { get; } = started;

    /// <summary>True when it committed; false when it was rolled back (nothing stored). Throws what else went wrong.</summary>
    public Task<bool> RoundTrip { get; set; } = Task.FromResult(false);

    /// <summary>The log's head read right after the event-order lock (when committed).</summary>
    public long Head { get; set; }

    /// <summary>The transaction's id: the row version of what it wrote (when committed).</summary>
    public uint Xid { get; set; }

    public StoredEvents? Written { get; set; }

    public async ValueTask DisposeAsync()
    {
        await Commands.DisposeAsync();
        await Db.DisposeAsync();
    }
}
