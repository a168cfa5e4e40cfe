using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;

namespace Relay.Broker.AgentLink;

/// <summary>
/// Bounds how many per-stream transactions of this replica run at once (AgentLink:MaxConcurrentBatches): handshakes,
/// stream releases and ack-only batches. Batches with messages go through the group commit (one transaction at a time).
/// </summary>
/// <remarks>
/// Each of these holds a pooled database connection for its whole transaction, and handshakes and releases take the
/// event-order lock (EventIngestWriter.EventOrderLockKey), so they run one at a time anyway. Without a bound, a
/// reconnect storm parks one connection per agent on that lock: at about 100 agents the pool and PostgreSQL's
/// max_connections run out (53300 "too many clients"), and everything else on the replica (Admin, Watch, delivery) is
/// starved of connections. With the bound, a stream waits here holding nothing.
/// </remarks>
internal sealed class IngestGate(IOptions<AgentLinkOptions> options) : SlotGate(options.Value.MaxConcurrentBatches);
