using System.CommandLine;
using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>Every command's --help: usage, description and an Examples section, on stdout, exit code 0.</summary>
public sealed class HelpTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public static TheoryData<string> Commands() => [.. CommandPaths()];

    private static List<string> CommandPaths() =>
        Paths(RelayCtl.BuildRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, TextReader.Null, _ => null)), []).ToList();

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_EveryCommand_HasUsageAndExamples(string path)
    {
        var result = await _cli.RunAsync([.. path.Split(' '), "--help"]);

        result.ExitCode.Should().Be(0);
        result.Stderr.Should().BeEmpty();
        // In-process the root command is named after the test host; the real program's is relayctl.
        result.Stdout.Should().MatchRegex("Usage:\n  \\S+ " + path + "( |\n)").And.MatchRegex("Examples:\n  \\S*.*relayctl " + path.Split(' ')[0]);
    }

    [Fact]
    public void Commands_CoverEveryCommandOfTheIssue()
    {
        CommandPaths().Should().Contain(
        [
            "machines list", "machines show", "machines enroll", "machines revoke", "sessions list", "sessions show", "sessions history",
            "sessions search", "send", "watch", "approvals list", "approvals allow", "approvals deny", "launch", "stop", "briefings set",
            "briefings get", "briefings list", "briefings delete", "policy show", "policy set", "tokens create", "tokens list", "tokens revoke",
            "audit", "status", "login", "completion",
        ]);
    }

    public void Dispose() => _cli.Dispose();

    private static IEnumerable<string> Paths(Command command, List<string> prefix)
    {
        foreach (var sub in command.Subcommands)
        {
            var path = prefix.Append(sub.Name).ToList();
            yield return string.Join(' ', path);
            foreach (var deeper in Paths(sub, path))
            {
                yield return deeper;
            }
        }
    }
}
