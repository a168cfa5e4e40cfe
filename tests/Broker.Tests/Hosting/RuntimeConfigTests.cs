using System.Text.Json;

namespace Relay.Broker.Tests.Hosting;

/// <summary>
/// The runtime settings relay-broker ships in its runtimeconfig.json. They are process-wide and read at start, so the
/// broker gets them from its own runtimeconfig, not from code a test could run in this process.
/// </summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void RuntimeConfig_ThreadPool_DoesNotSpinIdleWorkers()
    {
        // Idle workers spinning took 40 % of the broker's samples under ingest load, CPU PostgreSQL needed (docs/broker.md).
        var path = Path.Combine(AppContext.BaseDirectory, "relay-broker.runtimeconfig.json");
        File.Exists(path).Should().BeTrue($"the broker's runtimeconfig is copied beside the tests ({path})");

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        properties.TryGetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", out var value)
            .Should().BeTrue("Relay.Broker.csproj sets the spin limit");
        value.GetInt32().Should().Be(0);
    }
}
