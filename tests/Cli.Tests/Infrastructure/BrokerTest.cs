using System.Text.Json;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Cli.Tests.Infrastructure;

/// <summary>
/// A test against the shared real broker: relayctl runs with the broker's admin token in its environment, names are
/// unique per test (the broker and its database outlive the test), and a simulated agent is one call away.
/// </summary>
public abstract class BrokerTest : IAsyncLifetime
{
    private readonly List<SimulatedAgent> _agents = [];

    protected BrokerTest(BrokerProcess broker)
    {
        Broker = broker;
        Cli.Environment["RELAY_BROKER"] = broker.Address;
        Cli.Environment["RELAY_TOKEN"] = broker.AdminToken;
    }

    public BrokerProcess Broker { get; }

    internal CliHarness Cli { get; } = new();

    /// <summary>Bounds every wait of the test.</summary>
    protected CancellationTokenSource Timeout { get; } = TestTimeout.Start();

    protected CancellationToken Token => Timeout.Token;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        Cli.Dispose();
        Timeout.Dispose();
    }

    /// <summary>A name no other test uses.</summary>
    protected static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>relayctl with the admin token; fails the test on a non-zero exit code.</summary>
    internal async Task<CliResult> OkAsync(params string[] args)
    {
        var result = await Cli.RunAsync(args);
        result.ExitCode.Should().Be(0, "relayctl {0} failed: {1}", string.Join(' ', args), result.Stderr);
        return result;
    }

    /// <summary>A token with <paramref name="role"/>, made with relayctl itself.</summary>
    protected async Task<string> TokenAsync(string role)
    {
        var created = await OkAsync("tokens", "create", Unique(role), "--role", role, "--json");
        return Json(created).GetProperty("secret").GetString()!;
    }

    /// <summary>Enrols a machine with relayctl and connects a simulated agent for it.</summary>
    internal async Task<SimulatedAgent> AgentAsync(string? name = null)
    {
        var enrolled = await OkAsync("machines", "enroll", name ?? Unique("box"), "--json");
        var agent = await SimulatedAgent.EnrollAndConnectAsync(Broker.Address, Json(enrolled).GetProperty("token").GetString()!, Token);
        _agents.Add(agent);
        return agent;
    }

    /// <summary>An agent with one live session named <paramref name="name"/>.</summary>
    internal async Task<(SimulatedAgent Agent, Guid ClaudeSessionId, string SessionId)> SessionAsync(string name)
    {
        var agent = await AgentAsync();
        var claudeSessionId = Guid.NewGuid();
        await agent.StartSessionAsync(claudeSessionId, name, Token);
        var shown = await OkAsync("sessions", "show", claudeSessionId.ToString(), "--json");
        return (agent, claudeSessionId, Json(shown).GetProperty("session").GetProperty("session_id").GetString()!);
    }

    internal static JsonElement Json(CliResult result)
    {
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }

    internal static IReadOnlyList<JsonElement> JsonLines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }).ToList();
}
