using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>sessions list|show|history|search in both output formats against the real broker.</summary>
[Collection(BrokerCollection.Name)]
public sealed class SessionsTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task SessionsListAndShow_LiveSession_TableAndJsonAgree()
    {
        var name = Unique("list");
        var (agent, claudeSessionId, sessionId) = await SessionAsync(name);

        var table = await OkAsync("sessions", "list", "--machine", agent.MachineName);
        var json = await OkAsync("sessions", "list", "--machine", agent.MachineName, "--json");
        var show = await OkAsync("sessions", "show", name);
        var showJson = await OkAsync("sessions", "show", name, "--machine", agent.MachineName, "--json");

        table.Stdout.Should().MatchRegex(sessionId + @"\s+" + name + @"\s+" + agent.MachineName + @"\s+(idle|working|waiting-for-input)\s+yes");
        Json(json).GetProperty("sessions").EnumerateArray().Should().ContainSingle()
            .Which.GetProperty("session_id").GetString().Should().Be(sessionId);
        show.Stdout.Should().MatchRegex(@"Claude session:\s+" + claudeSessionId).And.MatchRegex(@"Machine online:\s+yes");
        Json(showJson).GetProperty("session").GetProperty("claude_session_id").GetString().Should().Be(claudeSessionId.ToString());
    }

    [Fact]
    public async Task SessionsHistory_LimitAndPageToken_PagesThroughEveryEventOnce()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("pages"));
        for (var i = 0; i < 2; i++)
        {
            var sending = Cli.RunAsync("send", sessionId, "prompt " + i, "--wait");
            await agent.AnswerNextPromptAsync(claudeSessionId, "reply " + i, Token);
            (await sending).ExitCode.Should().Be(0);
        }

        var all = Json(await OkAsync("sessions", "history", sessionId, "--json")).GetProperty("events").EnumerateArray()
            .Select(e => e.GetProperty("cursor").GetString()).ToList();
        var paged = new List<string?>();
        string? pageToken = null;
        for (var page = 0; page < 50; page++)
        {
            var args = new List<string> { "sessions", "history", sessionId, "--limit", "3", "--json" };
            if (pageToken is not null)
            {
                args.AddRange(["--page-token", pageToken]);
            }

            var response = Json(await OkAsync([.. args]));
            paged.AddRange(response.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("cursor").GetString()));
            pageToken = response.GetProperty("next_page_token").GetString();
            if (string.IsNullOrEmpty(pageToken))
            {
                break;
            }
        }

        var tablePage = await OkAsync("sessions", "history", sessionId, "--limit", "3");
        all.Count.Should().BeGreaterThan(3);
        paged.Should().Equal(all);
        tablePage.Stderr.Should().Contain("More results: repeat with --page-token ");
    }

    [Fact]
    public async Task SessionsHistory_KindFilterNewestFirst_ReturnsOnlyRepliesNewestFirst()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("kinds"));
        foreach (var text in new[] { "first", "second" })
        {
            var sending = Cli.RunAsync("send", sessionId, text, "--wait");
            await agent.AnswerNextPromptAsync(claudeSessionId, "re: " + text, Token);
            (await sending).ExitCode.Should().Be(0);
        }

        var json = Json(await OkAsync("sessions", "history", sessionId, "--kind", "reply", "--newest-first", "--json"));

        json.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("reply").GetProperty("text").GetString())
            .Should().Equal("re: second", "re: first");
    }

    [Fact]
    public async Task SessionsHistory_BeforeCursor_ReturnsOnlyOlderEvents()
    {
        var (_, _, sessionId) = await SessionAsync(Unique("before"));
        var events = Json(await OkAsync("sessions", "history", sessionId, "--json")).GetProperty("events").EnumerateArray().ToList();
        var last = events[^1].GetProperty("cursor").GetString()!;

        var older = Json(await OkAsync("sessions", "history", sessionId, "--before", last, "--json")).GetProperty("events");

        older.GetArrayLength().Should().Be(events.Count - 1);
    }

    [Fact]
    public async Task SessionsHistory_MalformedCursor_IsInvalidArgumentAndExits2()
    {
        var (_, _, sessionId) = await SessionAsync(Unique("badcursor"));

        var result = await Cli.RunAsync("sessions", "history", sessionId, "--after", "not-a-cursor");

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stderr.Should().StartWith("relayctl: invalid request: ").And.Contain("not a cursor");
    }

    [Fact]
    public async Task SessionsSearch_WordsInPromptAndReply_FindsBothInTableAndJson()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("search"));
        var word = "zebra" + Guid.NewGuid().ToString("N")[..6];
        var sending = Cli.RunAsync("send", sessionId, "please check the " + word + " migration", "--wait");
        await agent.AnswerNextPromptAsync(claudeSessionId, "the " + word + " migration is fine", Token);
        (await sending).ExitCode.Should().Be(0);

        var json = Json(await OkAsync("sessions", "search", word, "--json"));
        var replies = Json(await OkAsync("sessions", "search", word, "--kind", "reply", "--session", sessionId, "--since", "1h", "--json"));
        var table = await OkAsync("sessions", "search", word);

        json.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("event").GetProperty("kind").GetString())
            .Should().BeEquivalentTo("EVENT_KIND_PROMPT_CREATED", "EVENT_KIND_REPLY");
        replies.GetProperty("hits").EnumerateArray().Should().ContainSingle()
            .Which.GetProperty("snippet").GetString().Should().Contain("«" + word + "»");
        table.Stdout.Split('\n')[0].Should().MatchRegex(@"^AT\s+SESSION\s+NAME\s+KIND\s+MATCH$");
        table.Stdout.Should().Contain(sessionId).And.Contain("«" + word + "»");
    }

    [Fact]
    public async Task SessionsSearch_NothingMatches_PrintsHeaderAndNoteExit0()
    {
        var result = await OkAsync("sessions", "search", "qqq" + Guid.NewGuid().ToString("N"));

        result.Stdout.Should().MatchRegex(@"^AT\s+SESSION");
        result.Stderr.Should().Contain("No results.");
    }
}
