using System.Diagnostics;
using System.Diagnostics.Metrics;
using Relay.Agent.Link;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;

namespace Relay.Agent.Diagnostics;

/// <summary>
/// The agent's traces and metrics (DESIGN.md §10). A span per hook (under ASP.NET Core's request span for http hooks)
/// and per channel reply; whatever span is current when a message is spooled becomes its <c>traceparent</c>, which the
/// broker uses as the parent of the span that stores it — so one trace runs from the hook through the broker to
/// PostgreSQL. Metrics: spool depth and size, broker link state, live sessions, hook answer time.
/// </summary>
internal sealed class AgentTelemetry : IDisposable
{
    /// <summary>The agent's ActivitySource and Meter name.</summary>
    public const string Name = "Relay.Agent";

    /// <summary>Every source the agent's tracer provider listens to.</summary>
    public static readonly string[] ActivitySources = [Name, "Microsoft.AspNetCore"];

    /// <summary>Every meter the agent exports.</summary>
    public static readonly string[] Meters = [Name, "Microsoft.AspNetCore.Server.Kestrel"];

    private static readonly ActivitySource Source = new(Name, Hosting.AgentCommandLine.Version);

    private readonly Meter _meter;
    private readonly Histogram<double> _hookDuration;

    public AgentTelemetry(IMeterFactory meters, IAgentSpool spool, IBrokerLink link, ISessionTracker sessions)
    {
        _meter = meters.Create(Name, Hosting.AgentCommandLine.Version);
        _hookDuration = _meter.CreateHistogram<double>("relay.agent.hook.duration", "s", "From a hook's arrival to its answer, by hook event.");
        _meter.CreateObservableGauge("relay.agent.spool.depth", () => (long)spool.Stats.Items, "{message}", "Messages in the spool not yet acknowledged by the broker.");
        _meter.CreateObservableGauge("relay.agent.spool.bytes", () => (long)spool.Stats.Bytes, "By", "Bytes of those messages.");
        _meter.CreateObservableGauge("relay.agent.link.connected", () => link.IsConnected ? 1 : 0, "{stream}", "1 while the broker link is up.");
        _meter.CreateObservableGauge("relay.agent.sessions.live", () => sessions.Snapshot().Count, "{session}", "Claude processes the agent tracks.");
    }

    /// <summary>Starts the span of one hook.</summary>
    public static Activity? StartHook(string hookEventName)
    {
        var activity = Source.StartActivity("relay.agent.hook");
        activity?.SetTag("relay.hook.event", hookEventName);
        return activity;
    }

    /// <summary>Starts the span of one reply from a channel.</summary>
    public static Activity? StartReply(string replyId)
    {
        var activity = Source.StartActivity("relay.agent.reply");
        activity?.SetTag("relay.reply.id", replyId);
        return activity;
    }

    /// <summary>The W3C traceparent of the current span, or empty.</summary>
    public static string CurrentTraceparent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id ?? string.Empty : string.Empty;

    /// <summary>A hook was answered.</summary>
    public void HookAnswered(string hookEventName, TimeSpan elapsed) =>
        _hookDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("relay.hook.event", hookEventName));

    public void Dispose() => _meter.Dispose();
}
