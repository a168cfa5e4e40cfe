using System.Text.Json;
using Relay.Tests.Shared;

namespace Relay.EndToEnd.Tests.Infrastructure;

/// <summary>What one relayctl process printed and returned.</summary>
internal sealed record RelayctlResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Stdout);
        return document.RootElement.Clone();
    }
}

/// <summary>Runs the real relayctl (a process) against the suite's broker with its admin token.</summary>
internal sealed class Relayctl(Func<string> brokerAddress, Func<string> adminToken)
{
    /// <summary>Runs relayctl; the process is killed (and the test fails) when it outlives <paramref name="timeout"/>.</summary>
    public async Task<RelayctlResult> RunAsync(IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var environment = new Dictionary<string, string?>
        {
            ["RELAY_BROKER"] = brokerAddress(),
            ["RELAY_TOKEN"] = adminToken(),
            ["RELAY_PROFILE"] = null,
            // Nothing of the real user's profile: relayctl.json lives under XDG_CONFIG_HOME.
            ["XDG_CONFIG_HOME"] = "/nonexistent-relay-e2e",
        };
        var (exit, stdout, stderr) = await ProgramRunner.RunAsync("relayctl", environment, args, timeout ?? TimeSpan.FromSeconds(60));
        return new RelayctlResult(exit, stdout, stderr);
    }

    /// <summary>Runs relayctl with <c>--json</c>, fails on a non-zero exit code, returns the parsed output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "--json"]);
        result.ExitCode.Should().Be(0, "relayctl {0} failed: {1}", string.Join(' ', args), result.Stderr);
        return result.Json();
    }
}
