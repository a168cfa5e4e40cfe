using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Agent.Launch;
using Relay.Agent.Link;
using Relay.Agent.Local;
using Relay.Agent.Spool;
using Relay.Telemetry;

namespace Relay.Agent.Hosting;

/// <summary>The agent's features, in dependency order: the table of contents of <c>relay-agent run</c>.</summary>
internal static class AgentFeatures
{
    public static IServiceCollection AddAgentFeatures(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(AgentConfigStore.ForCurrentUser());
        services.AddAgentSpool();
        services.AddBrokerLink();
        services.AddSessionLauncher();
        services.AddLocalAgent();
        services.AddLocalGrpcService<LocalAgentService>();
        services.AddAgentHooks();
        services.AddSingleton<Diagnostics.AgentTelemetry>();
        return services;
    }

    /// <summary>Traces and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or <c>Telemetry:OtlpEndpoint</c>) is set.</summary>
    public static IServiceCollection AddAgentObservability(this IServiceCollection services, IConfiguration configuration) =>
        services.AddRelayTelemetry(configuration, "relay-agent", AgentCommandLine.Version, Diagnostics.AgentTelemetry.ActivitySources, Diagnostics.AgentTelemetry.Meters);
}
