using System.Diagnostics;
using System.Diagnostics.Metrics;
using Relay.Broker.AgentLink;

namespace Relay.Broker.Observability;

/// <summary>
/// The broker's traces and metrics (DESIGN.md §10). Spans: the ASP.NET Core request of every gRPC call (its parent
/// comes from the caller's <c>traceparent</c> header), one span per stored agent batch (parented by the agent's
/// per-message <c>traceparent</c>), and Npgsql's spans under them. Metrics: connected agents, live sessions,
/// events/s, prompt delivery latency, agents' spool depth and the broker's outbound queue depths.
/// </summary>
internal sealed class BrokerTelemetry : IDisposable
{
    /// <summary>The broker's ActivitySource and Meter name.</summary>
    public const string Name = "Relay.Broker";

    /// <summary>Every source the broker's tracer provider listens to.</summary>
    public static readonly string[] ActivitySources = [Name, "Npgsql", "Microsoft.AspNetCore"];

    /// <summary>Every meter the broker exports.</summary>
    public static readonly string[] Meters = [Name, "Npgsql", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    private readonly Meter _meter;
    private readonly Counter<long> _messagesStored;
    private readonly Histogram<double> _batchDuration;
    private readonly Histogram<double> _deliveryLatency;
    private long _liveSessions = -1;

    public BrokerTelemetry(IMeterFactory meters, AgentConnectionRegistry connections)
    {
        _meter = meters.Create(Name, ServerInfo.BrokerReplica.CurrentVersion);
        _messagesStored = _meter.CreateCounter<long>("relay.broker.agent_messages.stored", "{message}", "Sequenced agent messages committed, by type (hook_event, reply, ...).");
        _batchDuration = _meter.CreateHistogram<double>("relay.broker.ingest.batch.duration", "s", "Time to store one batch of agent messages, commit included.");
        _deliveryLatency = _meter.CreateHistogram<double>("relay.broker.prompt.delivery.latency", "s", "From a prompt's creation to its DELIVERED receipt, by delivery path.");
        _meter.CreateObservableGauge("relay.broker.agents.connected", () => connections.Count, "{agent}", "Agents with a live stream on this replica.");
        _meter.CreateObservableGauge("relay.broker.sessions.live", ObserveLiveSessions, "{session}", "Sessions not ended, all machines (refreshed periodically).");
        _meter.CreateObservableGauge("relay.broker.agent.outbound.queued", () => Observe(connections, c => c.OutboundDepth), "{message}", "Messages queued for each connected agent's stream.");
        _meter.CreateObservableGauge("relay.agent.spool.depth", () => Observe(connections, c => (long)(c.LastStats?.Spool?.Items ?? 0)), "{message}", "Items in each connected agent's spool, from its heartbeats.");
    }

    /// <summary>Starts the span of one stored batch, parented by the first message that carries trace context.</summary>
    public static Activity? StartBatch(string machineName, IReadOnlyList<InboundItem> items)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        foreach (var item in items)
        {
            if (item.Message.Traceparent is { Length: > 0 } traceparent && ActivityContext.TryParse(traceparent, null, out var context))
            {
                if (parent == default)
                {
                    parent = context;
                }
                else if ((links ??= []).Count < 32)
                {
                    links.Add(new ActivityLink(context));
                }
            }
        }

        var activity = Source.StartActivity("relay.agent_link.store_batch", ActivityKind.Internal, parent, links: links);
        activity?.SetTag("relay.machine", machineName);
        activity?.SetTag("relay.batch.messages", items.Count);
        return activity;
    }

    /// <summary>A batch committed.</summary>
    public void BatchStored(IReadOnlyList<InboundItem> items, TimeSpan duration, IReadOnlyList<(TimeSpan Latency, string Path)> deliveries)
    {
        _batchDuration.Record(duration.TotalSeconds);
        foreach (var group in items.GroupBy(i => i.Message.BodyCase))
        {
            _messagesStored.Add(group.Count(), new KeyValuePair<string, object?>("relay.message.type", MessageType(group.Key)));
        }

        foreach (var (latency, path) in deliveries)
        {
            _deliveryLatency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("relay.delivery.path", path));
        }
    }

    /// <summary>The live-session count, refreshed by <see cref="LiveSessionCounter"/>.</summary>
    public void SetLiveSessions(long count) => Interlocked.Exchange(ref _liveSessions, count);

    public void Dispose() => _meter.Dispose();

    private static readonly ActivitySource Source = new(Name, ServerInfo.BrokerReplica.CurrentVersion);

    private IEnumerable<Measurement<long>> ObserveLiveSessions()
    {
        var count = Interlocked.Read(ref _liveSessions);
        return count < 0 ? [] : [new Measurement<long>(count)];
    }

    private static IEnumerable<Measurement<long>> Observe(AgentConnectionRegistry connections, Func<AgentConnection, long> value) =>
        connections.Live().Select(c => new Measurement<long>(value(c), new KeyValuePair<string, object?>("relay.machine", c.Machine.Name)));

    private static string MessageType(Relay.Protocol.V1.AgentMessage.BodyOneofCase body) => body switch
    {
        Relay.Protocol.V1.AgentMessage.BodyOneofCase.HookEvent => "hook_event",
        Relay.Protocol.V1.AgentMessage.BodyOneofCase.Reply => "reply",
        Relay.Protocol.V1.AgentMessage.BodyOneofCase.PromptReceipt => "prompt_receipt",
        Relay.Protocol.V1.AgentMessage.BodyOneofCase.PermissionRequest => "permission_request",
        Relay.Protocol.V1.AgentMessage.BodyOneofCase.SessionSnapshot => "session_snapshot",
        _ => "other",
    };
}
