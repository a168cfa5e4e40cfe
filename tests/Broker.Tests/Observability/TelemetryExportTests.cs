using System.Diagnostics;
using Relay.Broker.Tests.AgentLink;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared;

namespace Relay.Broker.Tests.Observability;

/// <summary>
/// Spans and metrics leave the broker over OTLP/HTTP to a receiver on loopback, and an agent's per-message trace
/// context becomes the parent of the span that stored the message.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class TelemetryExportTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly OtlpReceiver _receiver = new();

    public Task InitializeAsync() => _receiver.StartAsync();

    public Task DisposeAsync() => _receiver.DisposeAsync().AsTask();

    [Fact]
    public async Task Broker_WithOtlpEndpoint_ExportsStoreSpanUnderAgentTraceAndRelayMetrics()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<TelemetryExportTests>();
        await using var broker = await TestBroker.StartAsync(database, new Dictionary<string, string?>
        {
            ["Telemetry:OtlpEndpoint"] = _receiver.Address,
            ["Telemetry:OtlpProtocol"] = "http/protobuf",
            ["Telemetry:MetricExportInterval"] = "00:00:00.200",
        }, cancellationToken: timeout.Token);
        await using var agent = await SimulatedAgent.EnrollAsync(database, cancellationToken: timeout.Token);
        await agent.ConnectAsync(broker, timeout.Token);

        var traceId = ActivityTraceId.CreateRandom();
        var hook = AgentMessages.Hook(AgentMessages.Evidence(Guid.NewGuid(), pid: 4242), "PreToolUse");
        hook.Traceparent = "00-" + traceId.ToHexString() + "-" + ActivitySpanId.CreateRandom().ToHexString() + "-01";
        var seq = await agent.SendAsync(hook, timeout.Token);
        await agent.WaitForAckAsync(seq, timeout.Token);

        // OTLP/protobuf carries the trace id as 16 raw bytes and names as UTF-8: finding both in one export proves the
        // store span was exported inside the agent's trace.
        var traceIdBytes = Convert.FromHexString(traceId.ToHexString());
        await _receiver.WaitForAsync("/v1/traces", body => Contains(body, traceIdBytes) && Contains(body, "relay.agent_link.store_batch"u8.ToArray()), timeout.Token);
        await _receiver.WaitForAsync("/v1/metrics", body =>
            Contains(body, "relay.broker.agents.connected"u8.ToArray()) && Contains(body, "relay.broker.agent_messages.stored"u8.ToArray()), timeout.Token);
    }

    [Fact]
    public async Task Broker_WithoutOtlpEndpoint_RegistersNoExporter()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<TelemetryExportTests>();
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);

        broker.Services.GetService(typeof(Relay.Telemetry.TelemetryProviders)).Should().BeNull(
            "without OTEL_EXPORTER_OTLP_ENDPOINT nothing should try to reach a collector");
    }

    private static bool Contains(byte[] body, byte[] needle) => OtlpReceiver.Contains(body, needle);
}
