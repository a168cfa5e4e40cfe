using System.CommandLine;
using Relay.Cli.Internal;
using Relay.Cli.Tests.Infrastructure;
using Relay.Grpc;

namespace Relay.Cli.Tests;

public sealed class ParsingTests : IDisposable
{
    private readonly CliHarness _cli = new();

    [Fact]
    public async Task Invoke_NoArguments_PrintsUsageOnStderrAndExits2()
    {
        var result = await _cli.RunAsync();

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("relayctl --help");
    }

    [Theory]
    [InlineData("machines", "frobnicate")]
    [InlineData("sessions", "show")]
    [InlineData("tokens", "create", "alice", "--role", "root")]
    [InlineData("send", "api", "hello", "--wait", "--timeout", "soon")]
    [InlineData("send", "api", "hello", "--timeout", "5m")]
    [InlineData("tokens", "list", "--limit", "many")]
    [InlineData("watch", "--after", "ev1", "--since", "5m")]
    [InlineData("watch", "--count", "0")]
    [InlineData("watch", "--kind", "everything")]
    [InlineData("sessions", "history")]
    [InlineData("sessions", "search")]
    [InlineData("sessions", "search", "x", "--kind", "hook")]
    [InlineData("approvals", "allow")]
    [InlineData("approvals", "list", "--all", "--status", "pending")]
    [InlineData("approvals", "list", "--status", "maybe")]
    [InlineData("launch", "--cwd", "/srv")]
    [InlineData("launch", "--machine", "m", "--timeout", "5m")]
    [InlineData("stop")]
    [InlineData("stop", "s", "--timeout", "5s")]
    [InlineData("stop", "s", "--grace-period", "never")]
    [InlineData("briefings", "set", "reviewer")]
    [InlineData("briefings", "set", "reviewer", "text", "--file", "x.md")]
    [InlineData("briefings", "get")]
    [InlineData("policy", "set")]
    [InlineData("policy", "set", "p.json", "--force", "--if-match", "e1")]
    [InlineData("completion")]
    [InlineData("completion", "powershell")]
    public async Task Invoke_BadCommandLine_ExplainsOnStderrAndExits2(params string[] args)
    {
        var result = await _cli.RunAsync(args);

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().StartWith("relayctl: ").And.Contain("--help");
    }

    [Fact]
    public async Task Invoke_NoBrokerConfigured_SaysHowToConfigureAndExits2()
    {
        var result = await _cli.RunAsync("status", "--token", "relay_pat_x");

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stderr.Should().Contain("--broker").And.Contain("RELAY_BROKER").And.Contain("relayctl login");
    }

    [Fact]
    public async Task Invoke_NoToken_SaysHowToAuthenticateAndExits4()
    {
        _cli.Environment["RELAY_BROKER"] = "127.0.0.1:1";

        var result = await _cli.RunAsync("sessions", "list");

        result.ExitCode.Should().Be(ExitCodes.AccessDenied);
        result.Stderr.Should().Contain("RELAY_TOKEN");
    }

    [Fact]
    public async Task Invoke_UnknownProfile_Exits2()
    {
        var result = await _cli.RunAsync("status", "--profile", "nope");

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stderr.Should().Contain("no profile 'nope'");
    }

    [Fact]
    public async Task Invoke_NothingListeningViaEnvironment_Exits5WithoutStackTrace()
    {
        _cli.Environment["RELAY_BROKER"] = "127.0.0.1:1";
        _cli.Environment["RELAY_TOKEN"] = "relay_pat_x";

        var result = await _cli.RunAsync("machines", "list", "--json");

        result.ExitCode.Should().Be(ExitCodes.Unavailable);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().NotContain("   at ").And.StartWith("relayctl: broker unavailable");
    }

    [Fact]
    public async Task Invoke_MissingCaCertFile_Exits1()
    {
        var result = await _cli.RunAsync("status", "--broker", "https://127.0.0.1:1", "--token", "t", "--ca-cert", "/nonexistent/ca.pem");

        result.ExitCode.Should().Be(ExitCodes.Error);
        result.Stderr.Should().Contain("/nonexistent/ca.pem");
    }

    [Fact]
    public async Task Help_Root_ListsEveryCommand()
    {
        var result = await _cli.RunAsync("--help");

        result.ExitCode.Should().Be(ExitCodes.Success);
        foreach (var command in new[]
        {
            "status", "login", "tokens", "machines", "sessions", "send", "watch", "approvals", "launch", "stop", "briefings", "policy", "audit", "completion",
        })
        {
            result.Stdout.Should().Contain("  " + command + " ");
        }
    }

    [Fact]
    public void BuildRootCommand_EveryCommand_HasDescriptionWithExample()
    {
        var root = RelayCtl.BuildRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, TextReader.Null, _ => null));

        foreach (var command in Flatten(root))
        {
            command.Description.Should().NotBeNullOrWhiteSpace();
            command.Should().BeOfType<RelayCommand>().Which.Examples
                .Should().NotBeEmpty("'{0}' needs an example in its help", command.Name)
                .And.OnlyContain(e => e.Contains("relayctl ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Help_Subcommand_PrintsUsageAndExamplesOnStdout()
    {
        var result = await _cli.RunAsync("machines", "enroll", "--help");

        result.ExitCode.Should().Be(ExitCodes.Success);
        result.Stdout.Should().Contain(" machines enroll <name> [options]").And.Contain("Examples:\n  relayctl machines enroll ");
        result.Stderr.Should().BeEmpty();
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1.5m", 90)]
    [InlineData("00:01:00", 60)]
    public void Durations_TryParse_ValidText_ReturnsDuration(string text, int seconds)
    {
        Durations.TryParse(text, out var value).Should().BeTrue();
        value.Should().Be(TimeSpan.FromSeconds(seconds));
    }

    [Theory]
    [InlineData(StatusCode.Cancelled, ExitCodes.Error)]
    [InlineData(StatusCode.Unknown, ExitCodes.Error)]
    [InlineData(StatusCode.InvalidArgument, ExitCodes.Usage)]
    [InlineData(StatusCode.DeadlineExceeded, ExitCodes.Timeout)]
    [InlineData(StatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(StatusCode.AlreadyExists, ExitCodes.Error)]
    [InlineData(StatusCode.PermissionDenied, ExitCodes.AccessDenied)]
    [InlineData(StatusCode.ResourceExhausted, ExitCodes.Error)]
    [InlineData(StatusCode.FailedPrecondition, ExitCodes.Error)]
    [InlineData(StatusCode.Aborted, ExitCodes.Error)]
    [InlineData(StatusCode.OutOfRange, ExitCodes.Usage)]
    [InlineData(StatusCode.Unimplemented, ExitCodes.Error)]
    [InlineData(StatusCode.Internal, ExitCodes.Error)]
    [InlineData(StatusCode.Unavailable, ExitCodes.Unavailable)]
    [InlineData(StatusCode.DataLoss, ExitCodes.Error)]
    [InlineData(StatusCode.Unauthenticated, ExitCodes.AccessDenied)]
    public void ErrorReporter_EveryErrorStatus_MapsToExitCodeWithAHint(StatusCode status, int exitCode)
    {
        using var error = new StringWriter();

        ErrorReporter.Report(new RpcException(new Status(status, "detail")), error).Should().Be(exitCode);
        error.ToString().Should().StartWith("relayctl: ").And.Contain("detail (").And.EndWith(").\n").And.NotContain("   at ");
    }

    [Fact]
    public void ErrorReporter_StatusCodes_AllCoveredByTheTheory()
    {
        System.Enum.GetValues<StatusCode>().Should().HaveCount(17, "a new status code needs a row in the theory above and in docs/relayctl.md");
    }

    public void Dispose() => _cli.Dispose();

    private static IEnumerable<Command> Flatten(Command command) =>
        command.Subcommands.SelectMany(c => c.Subcommands.Count == 0 ? [c] : Flatten(c).Prepend(c));
}
