using System.Text.Json;

namespace Relay.Agent.Tests.Hosting;

/// <summary>
/// The runtime settings relay-agent ships in its runtimeconfig.json. They are process-wide and read once, so the daemon
/// gets them from its own runtimeconfig, not from code a test could run in this process.
/// </summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void RuntimeConfig_Http2Client_DisablesDynamicWindowSizing()
    {
        // Without it SocketsHttpHandler answers a broker heartbeat with an RTT PING (at most every 2 s per connection),
        // which doubles the frames an idle AgentLink stream costs the broker (docs/broker.md, idle streams).
        var path = Path.Combine(AppContext.BaseDirectory, "relay-agent.runtimeconfig.json");
        File.Exists(path).Should().BeTrue($"the agent's runtimeconfig is copied beside the tests ({path})");

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        properties.TryGetProperty("System.Net.SocketsHttpHandler.Http2FlowControl.DisableDynamicWindowSizing", out var value)
            .Should().BeTrue("relay-agent.csproj sets the switch");
        value.GetBoolean().Should().BeTrue();
    }
}
