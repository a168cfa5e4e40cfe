using Microsoft.Extensions.Options;
using Relay.Broker.Delivery;
using Relay.Broker.Signals;

namespace Relay.Broker.AgentLink;

/// <summary>The singletons every agent stream works with (one bundle instead of a dozen constructor parameters).</summary>
internal sealed class AgentConnectionServices(
    IOptions<AgentLinkOptions> options,
    TimeProvider time,
    InboundProcessor inbound,
    IngestGate ingestGate,
    InboundBudget inboundBudget,
    OutboxFiller filler,
    OutboxStore outbox,
    LinkStateStore linkState,
    BrokerSignals signals,
    IHostApplicationLifetime lifetime,
    ILogger<AgentConnection> logger,
    IAgentToolHandler? tools = null)
{
    public AgentLinkOptions Options { get; } = options.Value;

    public TimeProvider Time { get; } = time;

    public InboundProcessor Inbound { get; } = inbound;

    public IngestGate IngestGate { get; } = ingestGate;

    public InboundBudget InboundBudget { get; } = inboundBudget;

    public OutboxFiller Filler { get; } = filler;

    public OutboxStore Outbox { get; } = outbox;

    public LinkStateStore LinkState { get; } = linkState;

    public BrokerSignals Signals { get; } = signals;

    public IHostApplicationLifetime Lifetime { get; } = lifetime;

    public ILogger<AgentConnection> Logger { get; } = logger;

    public IAgentToolHandler? Tools { get; } = tools;
}
