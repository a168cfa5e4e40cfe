using Relay.Tests.Shared;

namespace Relay.Channel.Tests;

public sealed class ProgramTests
{
    [Fact]
    public async Task Main_Version_PrintsNameAndVersion()
    {
        var (exitCode, stdout, _) = await RunAsync("--version");

        exitCode.Should().Be(0);
        stdout.Should().StartWith("relay-channel 0.1.0");
    }

    [Fact]
    public async Task Main_UnknownCommand_ExplainsOnStderrAndExits2()
    {
        var (exitCode, stdout, stderr) = await RunAsync("frobnicate");

        exitCode.Should().Be(2);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("unknown arguments 'frobnicate'").And.Contain("relay-channel --help");
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        ProgramRunner.RunAsync("relay-channel", args);
}
