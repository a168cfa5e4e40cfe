using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Relay.Telemetry;

/// <summary>
/// OpenTelemetry wired by hand with the core SDK and the OTLP exporter (OpenTelemetry.Extensions.Hosting is not on
/// this project's feed). Shared as source by relay-broker and relay-agent. Configured by the standard <c>OTEL_*</c>
/// variables (endpoint, protocol, headers, service name, resource attributes, metric export interval,
/// <c>OTEL_SDK_DISABLED</c>); the <c>Telemetry</c> configuration section may override the endpoint, protocol and
/// export interval (tests use it, since environment variables are process-wide).
/// </summary>
internal static class TelemetrySetup
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Telemetry";

    /// <summary>
    /// Registers trace and metric providers that export over OTLP when an endpoint is configured, and nothing
    /// otherwise (no exporter retrying against a collector nobody runs).
    /// </summary>
    public static IServiceCollection AddRelayTelemetry(
        this IServiceCollection services,
        IConfiguration configuration,
        string serviceName,
        string serviceVersion,
        IReadOnlyList<string> activitySources,
        IReadOnlyList<string> meters)
    {
        var section = configuration.GetSection(SectionName);
        var endpoint = section["OtlpEndpoint"];
        if (!IsEnabled(endpoint))
        {
            return services;
        }

        services.AddSingleton(_ => new TelemetryProviders(
            BuildTracerProvider(section, endpoint, serviceName, serviceVersion, activitySources),
            BuildMeterProvider(section, endpoint, serviceName, serviceVersion, meters)));
        services.AddHostedService(provider => provider.GetRequiredService<TelemetryProviders>());
        return services;
    }

    /// <summary>True when an OTLP endpoint is configured and the SDK is not disabled.</summary>
    internal static bool IsEnabled(string? configuredEndpoint)
    {
        if (string.Equals(Environment.GetEnvironmentVariable("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return !string.IsNullOrEmpty(configuredEndpoint)
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));
    }

    private static ResourceBuilder Resource(string serviceName, string serviceVersion)
    {
        // CreateDefault reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; our name is only the fallback.
        var resource = ResourceBuilder.CreateDefault();
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME")))
        {
            resource.AddService(serviceName, serviceVersion: serviceVersion, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId);
        }

        return resource;
    }

    private static TracerProvider BuildTracerProvider(IConfigurationSection section, string? endpoint, string serviceName, string serviceVersion, IReadOnlyList<string> sources) =>
        Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(Resource(serviceName, serviceVersion))
            .AddSource([.. sources])
            .AddOtlpExporter(options => Configure(options, section, endpoint, "v1/traces"))
            .Build();

    private static MeterProvider BuildMeterProvider(
        IConfigurationSection section, string? endpoint, string serviceName, string serviceVersion, IReadOnlyList<string> meters)
    {
        var interval = section.GetValue<TimeSpan?>("MetricExportInterval");
        return Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(Resource(serviceName, serviceVersion))
            .AddMeter([.. meters])
            .AddOtlpExporter((exporter, reader) =>
            {
                Configure(exporter, section, endpoint, "v1/metrics");
                if (interval is { } every)
                {
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)every.TotalMilliseconds;
                }
            })
            .Build();
    }

    private static void Configure(OtlpExporterOptions options, IConfigurationSection section, string? endpoint, string signalPath)
    {
        if (section["OtlpProtocol"] is { Length: > 0 } protocol)
        {
            options.Protocol = protocol is "http/protobuf" or "HttpProtobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        }

        if (!string.IsNullOrEmpty(endpoint))
        {
            // A base endpoint from configuration behaves like OTEL_EXPORTER_OTLP_ENDPOINT: over HTTP the signal's
            // path is appended (the exporter only does that itself for the environment variable).
            var baseUri = new Uri(endpoint.EndsWith('/') ? endpoint : endpoint + "/");
            options.Endpoint = options.Protocol == OtlpExportProtocol.HttpProtobuf ? new Uri(baseUri, signalPath) : new Uri(endpoint);
        }
    }
}

/// <summary>Owns the providers: flushes and disposes them when the host stops, so the last spans are not lost.</summary>
internal sealed class TelemetryProviders(TracerProvider tracing, MeterProvider metrics) : IHostedService, IDisposable
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracing.ForceFlush(timeoutMilliseconds: 5000);
        metrics.ForceFlush(timeoutMilliseconds: 5000);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        tracing.Dispose();
        metrics.Dispose();
    }
}
