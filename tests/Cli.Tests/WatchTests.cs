using System.Diagnostics;
using System.Globalization;
using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>relayctl watch: live, filtered, resumable, and Ctrl-C is a clean exit.</summary>
[Collection(BrokerCollection.Name)]
public sealed class WatchTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task Watch_JsonWithKindFilter_OneObjectPerLineWithCursorsThenResumesFromCursor()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("watch"));
        await using var watch = Cli.Start(string.Empty, ["watch", sessionId, "--kind", "reply", "--json", "--count", "1"], Token);
        var first = await watch.Output.WaitForAsync(t => t.Contains('\n'), Token);
        var checkpoint = JsonLines(first)[0].GetProperty("checkpoint").GetProperty("cursor").GetString()!;

        var sending = Cli.RunAsync("send", sessionId, "watch me", "--wait");
        await agent.AnswerNextPromptAsync(claudeSessionId, "watched", Token);
        (await sending).ExitCode.Should().Be(0);
        var result = await watch.Completion;

        result.ExitCode.Should().Be(0, result.Stderr);
        var lines = JsonLines(result.Stdout);
        lines.Select(l => l.EnumerateObject().Single().Name).Should().OnlyContain(n => n == "checkpoint" || n == "event");
        var reply = lines.Single(l => l.TryGetProperty("event", out _)).GetProperty("event");
        reply.GetProperty("kind").GetString().Should().Be("EVENT_KIND_REPLY");
        reply.GetProperty("reply").GetProperty("text").GetString().Should().Be("watched");
        reply.GetProperty("cursor").GetString().Should().StartWith("ev");
        result.Stderr.Should().Contain("--after " + reply.GetProperty("cursor").GetString());

        // Resuming from the checkpoint before the reply replays exactly that reply: no gap, no duplicate.
        var resumed = await OkAsync("watch", sessionId, "--kind", "reply", "--after", checkpoint, "--json", "--count", "1");
        var replayed = JsonLines(resumed.Stdout).Single(l => l.TryGetProperty("event", out _)).GetProperty("event");
        replayed.GetProperty("event_id").GetString().Should().Be(reply.GetProperty("event_id").GetString());
    }

    [Fact]
    public async Task Watch_TableByMachine_PrintsEventLinesAndCtrlCExits0WithResumeHint()
    {
        var agent = await AgentAsync();
        await using var watch = Cli.Start(string.Empty, ["watch", "--machine", agent.MachineName, "--kind", "session-started"], Token);
        await watch.Error.WaitForAsync(t => t.Contains("Watching from cursor ev", StringComparison.Ordinal), Token);
        var name = Unique("live");

        await agent.StartSessionAsync(Guid.NewGuid(), name, Token);
        await watch.Output.WaitForAsync(t => t.Contains(name, StringComparison.Ordinal), Token);
        var result = await watch.InterruptAsync();

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stdout.Should().MatchRegex(@"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  " + agent.MachineName + "  session-started  [0-9a-f-]{36}  session " + name);
        result.Stderr.Should().MatchRegex("To resume, repeat the command with --after ev[0-9]+");
    }

    [Fact]
    public async Task Watch_SinceReplaysRecentEvents_ThenCountEnds()
    {
        var name = Unique("since");
        var (agent, _, _) = await SessionAsync(name);

        var result = await OkAsync("watch", "--machine", agent.MachineName, "--since", "10m", "--kind", "session-started", "--count", "1", "--json");

        JsonLines(result.Stdout).Single(l => l.TryGetProperty("event", out _))
            .GetProperty("event").GetProperty("session").GetProperty("name").GetString().Should().Be(name);
    }

    [Fact]
    public async Task Watch_UnknownSession_Exits3()
    {
        var result = await Cli.RunAsync("watch", "no-such-session-" + Guid.NewGuid().ToString("N")[..6]);

        result.ExitCode.Should().Be(ExitCodes.NotFound, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: not found");
    }

    [Fact]
    public async Task Watch_RealProcessSigint_ExitsCleanlyWith0()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "relayctl.dll"), "watch", "--broker", Broker.Address, "--token", Broker.AdminToken, "--kind", "machine-updated" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Token);
        var stderr = new LiveWriter();
        var pump = PumpAsync(process.StandardError, stderr);
        await stderr.WaitForAsync(t => t.Contains("Watching from cursor", StringComparison.Ordinal), Token);

        using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            await interrupt.WaitForExitAsync(Token);
        }

        await process.WaitForExitAsync(Token);
        await pump;

        process.ExitCode.Should().Be(0, stderr.Text);
        (await stdout).Should().BeEmpty();
        stderr.Text.Should().Contain("To resume, repeat the command with --after ev").And.NotContain("Unhandled");
    }

    private static async Task PumpAsync(StreamReader reader, LiveWriter writer)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            writer.WriteLine(line);
        }
    }
}
