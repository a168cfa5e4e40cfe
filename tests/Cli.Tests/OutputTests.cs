using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>Colour only on a terminal and never with NO_COLOR or --json; stdout carries only data.</summary>
[Collection(BrokerCollection.Name)]
public sealed class OutputTests(BrokerProcess broker) : BrokerTest(broker)
{
    private const string Escape = "\u001b[";

    [Fact]
    public async Task Table_StdoutIsTerminal_HeadersAndStatesAreColoured()
    {
        var (agent, _, _) = await SessionAsync(Unique("colour"));
        Cli.OutputIsTerminal = true;

        var result = await OkAsync("sessions", "list", "--machine", agent.MachineName);
        var machines = await OkAsync("machines", "list");

        result.Stdout.Should().StartWith("\u001b[1mID\u001b[0m");
        machines.Stdout.Should().Contain("\u001b[32myes\u001b[0m");
        // Padding counts visible characters only, so the columns still line up.
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Relay.Cli.Internal.Ansi.Strip).ToList();
        lines[1].IndexOf(agent.MachineName, StringComparison.Ordinal).Should().Be(lines[0].IndexOf("MACHINE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Table_NoColorSet_HasNoEscapes()
    {
        Cli.OutputIsTerminal = true;
        Cli.Environment["NO_COLOR"] = "1";

        var result = await OkAsync("machines", "list");

        result.Stdout.Should().NotContain(Escape);
    }

    [Fact]
    public async Task Table_StdoutRedirected_HasNoEscapes()
    {
        var result = await OkAsync("tokens", "list");

        result.Stdout.Should().NotContain(Escape).And.StartWith("ID ");
    }

    [Fact]
    public async Task Json_OnTerminal_IsPlainJsonWithSnakeCaseNamesAndNothingOnStderr()
    {
        Cli.OutputIsTerminal = true;

        var result = await OkAsync("machines", "list", "--json");

        result.Stdout.Should().NotContain(Escape).And.Contain("\"next_page_token\"");
        result.Stderr.Should().BeEmpty();
    }
}
