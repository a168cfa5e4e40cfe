using Relay.Tests.Shared;

namespace Relay.Cli.Tests;

public sealed class ProgramTests
{
    [Fact]
    public async Task Main_Version_PrintsNameAndVersion()
    {
        var (exitCode, stdout, _) = await RunAsync("--version");

        exitCode.Should().Be(0);
        stdout.Should().StartWith("relayctl 0.1.0");
    }

    [Fact]
    public async Task Main_UnknownCommand_ExplainsOnStderrAndExits2()
    {
        var (exitCode, stdout, stderr) = await RunAsync("frobnicate");

        exitCode.Should().Be(2);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("'frobnicate'").And.Contain("relayctl --help");
    }

    [Fact]
    public async Task Main_NothingListening_ReportsUnavailableInOneLineAndExits5()
    {
        var (exitCode, stdout, stderr) = await RunAsync("status", "--broker", "127.0.0.1:1", "--token", "relay_pat_x");

        exitCode.Should().Be(5);
        stdout.Should().BeEmpty();
        stderr.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith("relayctl: broker unavailable");
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        ProgramRunner.RunAsync("relayctl", args);
}
