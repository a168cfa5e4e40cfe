using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Harness;

/// <summary>The harness itself: the real Claude Code CLI in print mode against the scripted Messages API stub.</summary>
public sealed class ClaudeCodeCliTests : IAsyncLifetime
{
    private readonly ClaudeCodeHome _home = new();
    private MessagesApiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await MessagesApiStub.StartAsync();

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        _home.Dispose();
    }

    [ClaudeCodeFact]
    public async Task Run_ScriptedText_PrintsItAsResultWithTheSessionId()
    {
        using var timeout = TestTimeout.Start();
        _stub.EnqueueText("Hello from the stub.");
        var options = new ClaudeCodeRunOptions { Prompt = "Say hello." };

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, options, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        run.ResultText.Should().Be("Hello from the stub.");
        ((string?)run.Json["session_id"]).Should().Be(options.SessionId.ToString());
        var turn = _stub.TurnRequests.Should().ContainSingle().Subject;
        turn.PathAndQuery.Should().Be("/v1/messages?beta=true");
        turn.SessionId.Should().Be(options.SessionId.ToString());
        turn.Headers["x-api-key"].Should().Be(ClaudeCodeEnvironment.ApiKey);
        turn.MessagesContain("Say hello.").Should().BeTrue();
        turn.ToolNames.Should().Contain("Bash");
    }

    [ClaudeCodeFact]
    public async Task Run_BashToolUse_RunsTheCommandAndSendsItsOutputBack()
    {
        using var timeout = TestTimeout.Start();
        _stub.EnqueueToolUse("Bash", new { command = "echo marker-$((40+2))", description = "Print a marker" })
            .EnqueueText("The marker was printed.");

        var run = await ClaudeCodeCli.RunAsync(
            _home, _stub.BaseUrl, new ClaudeCodeRunOptions { Prompt = "Print the marker.", AllowedTools = ["Bash"] }, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        run.ResultText.Should().Be("The marker was printed.");
        _stub.TurnRequests.Should().HaveCount(2);
        var result = _stub.TurnRequests[1].LastToolResults.Should().ContainSingle().Subject;
        result.ToJsonString().Should().Contain("marker-42");
        ((string?)result["tool_use_id"]).Should().StartWith("toolu_stub_");
        _stub.PendingTurns.Should().Be(0);
    }

    [ClaudeCodeFact]
    public async Task Run_ScriptExhausted_EndsWithTheDefaultText()
    {
        using var timeout = TestTimeout.Start();

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, new ClaudeCodeRunOptions { Prompt = "Anything." }, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        run.ResultText.Should().Be(MessagesApiStub.ExhaustedText);
    }

    [ClaudeCodeFact]
    public async Task Run_TurnComputedFromRequest_AnswersWithWhatClaudeSent()
    {
        using var timeout = TestTimeout.Start();
        _stub.Enqueue(request => StubTurn.Text("echo: " + (request.MessagesContain("purple-giraffe") ? "seen" : "missing")));

        var run = await ClaudeCodeCli.RunAsync(
            _home, _stub.BaseUrl, new ClaudeCodeRunOptions { Prompt = "The word is purple-giraffe." }, timeout.Token);

        run.ResultText.Should().Be("echo: seen", run.Describe());
    }

    [ClaudeCodeFact]
    public async Task Run_ApiError_ExitsNonZeroWithTheErrorInTheResult()
    {
        using var timeout = TestTimeout.Start();
        _stub.Fallback = _ => StubTurn.Failure(400, "invalid_request_error", "stub says no");

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, new ClaudeCodeRunOptions { Prompt = "Fail." }, timeout.Token);

        run.ExitCode.Should().NotBe(0, run.Describe());
        run.Stdout.Should().Contain("stub says no");
        // 2.1.328 retries a 400 once before giving up, which is why the error is the fallback and not one scripted turn.
        _stub.TurnRequests.Should().HaveCountGreaterThan(1);
    }

    [ClaudeCodeFact]
    public async Task Run_Timeout_KillsClaudeAndReportsItsOutput()
    {
        using var timeout = TestTimeout.Start();
        var options = new ClaudeCodeRunOptions { Prompt = "Too slow.", Timeout = TimeSpan.FromMilliseconds(50) };

        var act = () => ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, options, timeout.Token);

        (await act.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain("--- stderr ---").And.Contain("was killed");
    }

    [ClaudeCodeFact]
    public async Task Run_StreamJson_EmitsInitAndResultEvents()
    {
        using var timeout = TestTimeout.Start();
        _stub.EnqueueText("streamed");
        var options = new ClaudeCodeRunOptions { Prompt = "Stream.", OutputFormat = ClaudeCodeOutputFormat.StreamJson };

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, options, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        var init = run.StreamEvents.First(e => (string?)e["type"] == "system" && (string?)e["subtype"] == "init");
        ((string?)init["session_id"]).Should().Be(options.SessionId.ToString());
        ((string?)init["claude_code_version"]).Should().Be(ClaudeCodeInstallation.PinnedVersion);
        ((string?)run.StreamEvents[^1]["result"]).Should().Be("streamed");
    }
}
