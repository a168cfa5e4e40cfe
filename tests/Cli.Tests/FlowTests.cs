using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>The scripted flow of issue #6, as a CI script would run it, against the real broker and a simulated agent.</summary>
[Collection(BrokerCollection.Name)]
public sealed class FlowTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task ScriptedFlow_TokensCreateEnrollSendWaitHistory_PromptAndReplyInHistory()
    {
        // tokens create (as the admin), then everything else with the new token.
        var secret = await TokenAsync("admin");
        Cli.Environment["RELAY_TOKEN"] = secret;

        // machines enroll → the simulated agent redeems the token, connects, and reports a live session.
        var agent = await AgentAsync();
        var claudeSessionId = Guid.NewGuid();
        var name = Unique("flow");
        await agent.StartSessionAsync(claudeSessionId, name, Token);

        // send --wait, by session name, while the agent takes the prompt and replies.
        var sending = Cli.RunAsync("send", name, "run the tests and summarise", "--wait", "--timeout", "60s");
        var delivery = await agent.AnswerNextPromptAsync(claudeSessionId, "All 42 tests pass.", Token);
        var sent = await sending;

        sent.ExitCode.Should().Be(0, sent.Stderr);
        sent.Stdout.Should().Be("All 42 tests pass.\n");
        delivery.Text.Should().Be("run the tests and summarise");
        delivery.Sender.DisplayName.Should().StartWith("admin-");

        // sessions history: the prompt, its progress and the reply, in both formats.
        var json = await OkAsync("sessions", "history", name, "--json");
        var events = Json(json).GetProperty("events").EnumerateArray().ToList();
        var table = await OkAsync("sessions", "history", name);

        events.Should().Contain(e => e.GetProperty("kind").GetString() == "EVENT_KIND_PROMPT_CREATED"
            && e.GetProperty("prompt").GetProperty("text").GetString() == "run the tests and summarise");
        events.Should().Contain(e => e.GetProperty("kind").GetString() == "EVENT_KIND_REPLY"
            && e.GetProperty("reply").GetProperty("in_reply_to").GetString() == delivery.PromptId
            && e.GetProperty("reply").GetProperty("text").GetString() == "All 42 tests pass.");
        events.Should().OnlyContain(e => e.GetProperty("cursor").GetString()!.Length > 0);
        Json(json).GetProperty("head_cursor").GetString().Should().NotBeEmpty();
        table.Stdout.Split('\n')[0].Should().MatchRegex(@"^AT\s+KIND\s+SESSION\s+WHAT$");
        table.Stdout.Should().Contain("reply to " + delivery.PromptId + ": All 42 tests pass.").And.Contain("prompt-created");
        table.Stderr.Should().Contain("relayctl watch " + name + " --after ev");
    }

    [Fact]
    public async Task Send_TextFromStdinByClaudeSessionIdWithJson_PrintsPromptAndReplies()
    {
        var (agent, claudeSessionId, _) = await SessionAsync(Unique("stdin"));

        var sending = Cli.RunWithInputAsync("line one\nline two\n", "send", claudeSessionId.ToString(), "-", "--wait", "--json");
        var delivery = await agent.AnswerNextPromptAsync(claudeSessionId, "got both lines", Token);
        var sent = await sending;

        sent.ExitCode.Should().Be(0, sent.Stderr);
        delivery.Text.Should().Be("line one\nline two\n");
        var response = Json(sent);
        response.GetProperty("prompt").GetProperty("status").GetString().Should().Be("PROMPT_STATUS_REPLIED");
        response.GetProperty("replies")[0].GetProperty("text").GetString().Should().Be("got both lines");
        response.GetProperty("wait_timed_out").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public async Task Send_WithoutWaitByIdPrefix_PrintsPromptIdOnly()
    {
        var (agent, _, sessionId) = await SessionAsync(Unique("prefix"));

        // Relay ids are UUIDv7, so their first characters are a timestamp: a prefix must reach the random part.
        var table = await OkAsync("send", sessionId[..23], "hello");
        var json = await OkAsync("send", sessionId, "hello again", "--json");
        var delivered = await agent.NextAsync(m => m.PromptDelivery?.Text == "hello", Token);

        table.Stdout.Trim().Should().Be(delivered.PromptDelivery.PromptId);
        table.Stderr.Should().Contain("for session");
        Json(json).GetProperty("prompt").GetProperty("session_id").GetString().Should().Be(sessionId);
        Json(json).GetProperty("replies").GetArrayLength().Should().Be(0);
    }

    [Fact]
    public async Task Send_WaitWithoutReply_TimesOutWithExitCode6()
    {
        var (agent, _, sessionId) = await SessionAsync(Unique("silent"));

        var result = await Cli.RunAsync("send", sessionId, "anyone there?", "--wait", "--timeout", "1s");

        result.ExitCode.Should().Be(ExitCodes.Timeout, result.Stderr);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("no reply within 1s").And.Contain("--timeout");
        (await agent.NextAsync(m => m.PromptDelivery is not null, Token)).PromptDelivery.Text.Should().Be("anyone there?");
    }

    [Fact]
    public async Task Send_WaitOnTerminal_ShowsSpinnerOnStderrAndErasesIt()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("spin"));
        Cli.ErrorIsTerminal = true;

        var sending = Cli.RunAsync("send", sessionId, "spin", "--wait");
        await agent.AnswerNextPromptAsync(claudeSessionId, "done", Token);
        var result = await sending;

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stdout.Should().Be("done\n");
        result.Stderr.Should().StartWith("\r\u001b[K⠋ Sent prompt ").And.EndWith("\r\u001b[K");
    }

    [Fact]
    public async Task Send_WaitNotOnTerminal_WritesOneNoteLineWithoutEscapes()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("nospin"));

        var sending = Cli.RunAsync("send", sessionId, "plain", "--wait");
        await agent.AnswerNextPromptAsync(claudeSessionId, "ok", Token);
        var result = await sending;

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stderr.Should().MatchRegex("^Sent prompt [0-9a-f-]+; waiting up to 5m for the reply...\n$");
    }

    [Fact]
    public async Task Send_EndedSession_IsRefusedWithExitCode1()
    {
        var (agent, _, sessionId) = await SessionAsync(Unique("ended"));
        await agent.SendAndCommitAsync(Token, new Relay.Protocol.V1.AgentMessage
        {
            SessionSnapshot = new Relay.Protocol.V1.SessionSnapshot { TakenAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
        });

        var result = await Cli.RunAsync("send", sessionId, "too late");

        result.ExitCode.Should().Be(ExitCodes.Error, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: refused: ");
    }
}
