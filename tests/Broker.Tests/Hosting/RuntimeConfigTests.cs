using System.Text.Json;

namespace Relay.Broker.Tests.Hosting;

/// <summary>
/// The runtime settings relay-broker ships in its runtimeconfig.json. They are process-wide and read at start, so the
/// broker gets them from its own runtimeconfig, not from code a test could run in this process.
/// </summary>
public sealed class RuntimeConfigTests
{
    [Theory]
    [InlineData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", "0")] // idle workers do not spin (perf: 40 % of samples)
    [InlineData("System.GC.RetainVM", "true")] // freed heap memory kept for reuse (perf: 8 % of samples zeroing new pages)
    public void RuntimeConfig_Broker_ShipsTheSetting(string name, string expected)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "relay-broker.runtimeconfig.json");
        File.Exists(path).Should().BeTrue($"the broker's runtimeconfig is copied beside the tests ({path})");

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        properties.TryGetProperty(name, out var value).Should().BeTrue("Relay.Broker.csproj sets " + name);
        (value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()).Should().Be(expected);
    }
}
