using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Hosting;

/// <summary><c>relay-agent run</c> as a process: its refusals and exit codes.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task Run_WhileAnotherDaemonHoldsTheSocket_ExitsOneWithAClearMessage()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        var result = await AgentProcess.RunAsync(["run"], agent.Paths.Environment, stdin: null, timeout.Token);

        result.ExitCode.Should().Be(1);
        result.Stderr.Should().Contain("Another relay-agent is already running on " + agent.Paths.Socket);
        File.Exists(agent.Paths.Socket).Should().BeTrue("the running daemon's socket is left alone");
    }

    [Fact]
    public async Task Run_SocketDirectoryOpenToOthers_ExitsTwoWithTheFix()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory);
        File.SetUnixFileMode(paths.SocketDirectory, (UnixFileMode)0b111_101_101);

        var result = await AgentProcess.RunAsync(["run"], paths.Environment, stdin: null, timeout.Token);

        result.ExitCode.Should().Be(2);
        result.Stderr.Should().Contain("chmod 700");
        result.Stdout.Should().BeEmpty();
    }

    [Fact]
    public async Task Run_InvalidHookOption_ExitsTwoNamingTheSetting()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        var environment = new Dictionary<string, string>(paths.Environment) { ["RELAY_AGENT__HOOKPORT"] = "70000" };

        var result = await AgentProcess.RunAsync(["run"], environment, stdin: null, timeout.Token);

        result.ExitCode.Should().Be(2);
        result.Stderr.Should().Contain("Agent:HookPort");
    }
}
