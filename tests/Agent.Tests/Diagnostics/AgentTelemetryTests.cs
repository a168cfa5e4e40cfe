using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Diagnostics;

/// <summary>
/// The agent's half of the trace that runs hook → agent → broker → PostgreSQL: a hook's span continues the caller's
/// trace, is exported over OTLP with the agent's metrics, and whatever span is current when a message is spooled
/// travels with it as its traceparent (the broker's half is tested in Relay.Broker.Tests).
/// </summary>
public sealed class AgentTelemetryTests
{
    [Fact]
    public async Task HookPost_WithOtlpEndpoint_ExportsHookSpanInCallersTraceAndSpoolMetrics()
    {
        using var timeout = TestTimeout.Start();
        await using var receiver = new OtlpReceiver();
        await receiver.StartAsync();
        await using var agent = await TestAgent.StartAsync(timeout.Token, settings: new Dictionary<string, string?>
        {
            ["Telemetry:OtlpEndpoint"] = receiver.Address,
            ["Telemetry:OtlpProtocol"] = "http/protobuf",
            ["Telemetry:MetricExportInterval"] = "00:00:00.200",
        });
        var traceId = ActivityTraceId.CreateRandom();

        using var request = new HttpRequestMessage(HttpMethod.Post, HookEndpoint.Path)
        {
            Content = new StringContent(HookPayloads.PreToolUse(), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(AgentConfig.HookSecretHeader, agent.Secret);
        request.Headers.Add("traceparent", "00-" + traceId.ToHexString() + "-" + ActivitySpanId.CreateRandom().ToHexString() + "-01");
        using var response = await agent.Http.SendAsync(request, timeout.Token);
        response.EnsureSuccessStatusCode();

        var traceIdBytes = Convert.FromHexString(traceId.ToHexString());
        await receiver.WaitForAsync("/v1/traces", body =>
            OtlpReceiver.Contains(body, traceIdBytes) && OtlpReceiver.Contains(body, "relay.agent.hook"u8.ToArray()), timeout.Token);
        await receiver.WaitForAsync("/v1/metrics", body =>
            OtlpReceiver.Contains(body, "relay.agent.spool.depth"u8.ToArray()) && OtlpReceiver.Contains(body, "relay.agent.hook.duration"u8.ToArray()), timeout.Token);
    }

    [Fact]
    public async Task AppendAsync_UnderASpan_CarriesItsTraceparent()
    {
        using var directory = new TempDirectory("relay-spool-");
        await using var spool = Open(directory.Path);
        using var source = new ActivitySource("Relay.Agent.Tests");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        string expected;
        using (var span = source.StartActivity("hook")!)
        {
            expected = span.Id!;
            await spool.AppendAsync(Hook("traced"), CancellationToken.None);
        }

        await spool.AppendAsync(Hook("untraced"), CancellationToken.None);

        ReadAll(spool).Select(m => m.Traceparent).Should().Equal(expected, string.Empty);
    }
}
