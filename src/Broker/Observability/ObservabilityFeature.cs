using Relay.Telemetry;

namespace Relay.Broker.Observability;

internal static class ObservabilityFeature
{
    /// <summary>Traces and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or <c>Telemetry:OtlpEndpoint</c>) is set.</summary>
    public static IServiceCollection AddBrokerObservability(this IServiceCollection services, IConfiguration configuration, string version)
    {
        services.AddSingleton<BrokerTelemetry>();
        services.AddHostedService<LiveSessionCounter>();
        services.AddRelayTelemetry(configuration, "relay-broker", version, BrokerTelemetry.ActivitySources, BrokerTelemetry.Meters);
        return services;
    }
}
