using Relay.Tests.Shared;

namespace Relay.Agent.Tests;

public sealed class ProgramTests
{
    [Fact]
    public async Task Main_Version_PrintsNameAndVersion()
    {
        var (exitCode, stdout, _) = await RunAsync("--version");

        exitCode.Should().Be(0);
        stdout.Should().StartWith("relay-agent 0.1.0");
    }

    [Fact]
    public async Task Main_UnknownCommand_ExplainsOnStderrAndExits2()
    {
        var (exitCode, stdout, stderr) = await RunAsync("frobnicate");

        exitCode.Should().Be(2);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("frobnicate").And.Contain("relay-agent --help");
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        ProgramRunner.RunAsync("relay-agent", args);
}
