using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>launch and stop, carried out by the simulated agent.</summary>
[Collection(BrokerCollection.Name)]
public sealed class LaunchStopTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task Launch_WaitWithPromptNameCwdAndClaudeArgs_AgentStartsItAndJsonSaysStarted()
    {
        var agent = await AgentAsync();
        var name = Unique("launched");

        var launching = Cli.RunAsync("launch", "--machine", agent.MachineName, "--cwd", "/srv/api", "--name", name, "--prompt", "review the PR",
            "--wait", "--json", "--", "--model", "opus");
        var (request, _) = await agent.StartNextLaunchAsync(Token);
        var result = await launching;

        result.ExitCode.Should().Be(0, result.Stderr);
        request.Cwd.Should().Be("/srv/api");
        request.Name.Should().Be(name);
        request.ClaudeArgs.Should().Equal("--model", "opus");
        request.InitialPrompt.Text.Should().Be("review the PR");
        var launch = Json(result).GetProperty("launch");
        launch.GetProperty("status").GetString().Should().Be("LAUNCH_STATUS_STARTED");
        launch.GetProperty("launch_id").GetString().Should().Be(request.LaunchId);
        Json(result).GetProperty("wait_timed_out").GetBoolean().Should().BeFalse();

        // The launch id names the session too.
        var shown = await OkAsync("sessions", "show", request.LaunchId, "--json");
        Json(shown).GetProperty("session").GetProperty("session_id").GetString().Should().Be(request.SessionId);
    }

    [Fact]
    public async Task Launch_NoWaitTable_PrintsLaunchAndSessionIds()
    {
        var agent = await AgentAsync();

        var result = await OkAsync("launch", "--machine", agent.MachineName);
        var request = (await agent.NextAsync(m => m.LaunchRequest is not null, Token)).LaunchRequest;

        result.Stdout.Should().MatchRegex(@"Launch:\s+" + request.LaunchId).And.MatchRegex(@"Session:\s+" + request.SessionId)
            .And.MatchRegex(@"Status:\s+(requested|sent)");
    }

    [Fact]
    public async Task Launch_WaitButAgentNeverStarts_Exits6()
    {
        var agent = await AgentAsync();

        var result = await Cli.RunAsync("launch", "--machine", agent.MachineName, "--wait", "--timeout", "1s");

        result.ExitCode.Should().Be(ExitCodes.Timeout, result.Stderr);
        result.Stderr.Should().Contain("did not report the start within 1s");
    }

    [Fact]
    public async Task Launch_UnknownMachine_Exits3()
    {
        var result = await Cli.RunAsync("launch", "--machine", Unique("nowhere"));

        result.ExitCode.Should().Be(ExitCodes.NotFound, result.Stderr);
    }

    [Fact]
    public async Task Stop_WaitWhileAgentStopsIt_SessionEndedJsonAndTable()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("stop"));

        var stopping = Cli.RunAsync("stop", sessionId, "--reason", "done for today", "--wait", "--json");
        var request = await agent.StopNextAsync(claudeSessionId, Token);
        var result = await stopping;
        var again = await OkAsync("stop", sessionId);

        result.ExitCode.Should().Be(0, result.Stderr);
        request.Reason.Should().Be("done for today");
        Json(result).GetProperty("stopped").GetBoolean().Should().BeTrue();
        Json(result).GetProperty("session").GetProperty("status").GetString().Should().Be("SESSION_STATUS_ENDED");
        again.Stdout.Should().MatchRegex(@"Status:\s+ended").And.MatchRegex(@"Stopped:\s+yes");
    }

    [Fact]
    public async Task Stop_UnknownSession_Exits3()
    {
        var result = await Cli.RunAsync("stop", Unique("ghost"));

        result.ExitCode.Should().Be(ExitCodes.NotFound, result.Stderr);
    }
}
