using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;

namespace Relay.Broker.Prompts;

/// <summary>
/// Bounds how many SendPrompt calls of this replica store their prompt at once (Prompts:MaxConcurrentSends).
/// </summary>
/// <remarks>
/// Storing a prompt takes the event-order lock in its transaction (see TimelineWriter), so stores run one at a time
/// anyway, each holding a pooled connection while it waits. Unbounded, a burst of SendPrompt calls (a script, a
/// dashboard, a CI fan-out) parks one connection per call on that lock: the pool and PostgreSQL's max_connections run
/// out (53300 "too many clients"), and the agents' batches and the outbox, which deliver those very prompts, wait for a
/// connection behind them. With the bound, a call waits here holding nothing, and PostgreSQL's lock queue never holds
/// more than a few of them ahead of an agent's batch. The agents' own bound is AgentLink's IngestGate; the two are
/// separate so that a burst of prompts never queues ahead of the batches that carry their delivery receipts and replies.
/// </remarks>
internal sealed class PromptSendGate(IOptions<PromptOptions> options) : SlotGate(options.Value.MaxConcurrentSends);
