using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Relay.Agent.Hooks;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks;

/// <summary><c>relay-agent hook</c>, the built binary, against a running test agent or none.</summary>
public sealed class HookCommandTests
{
    // The happy paths must not depend on how loaded the test machine is; the one-second default is tested with a stuck agent.
    private const string Patient = "20000";

    [Fact]
    public async Task Hook_AgentUp_PrintsTheAgentsAnswerAndTheEventIsSpooledOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.Responder.Answer(_ => FakeResponder.SessionStartContext("Standing briefing: you are 'api'."));
        var sessionId = Guid.NewGuid().ToString();
        var environment = new Dictionary<string, string>(agent.Paths.Environment)
        {
            ["RELAY_LAUNCH_ID"] = "launch-7",
            ["CLAUDE_CODE_SESSION_ID"] = sessionId,
            ["CLAUDE_PROJECT_DIR"] = "/home/dev/project",
            [HookCommand.DeadlineVariable] = Patient,
        };

        var result = await AgentProcess.RunAsync(["hook"], environment, HookPayloads.SessionStart(sessionId), timeout.Token);

        result.ExitCode.Should().Be(0, result.Stderr);
        JsonNode.Parse(result.Stdout)!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Be("Standing briefing: you are 'api'.");
        var hookEvent = agent.Spool.HookEvents.Should().ContainSingle().Subject;
        hookEvent.Transport.Should().Be(HookTransport.Command);
        hookEvent.Session.ClaudeSessionId.Should().Be(sessionId);
        hookEvent.Session.LaunchId.Should().Be("launch-7");
        hookEvent.Session.ProjectDir.Should().Be("/home/dev/project");
        hookEvent.Session.ClaudePid.Should().Be(Environment.ProcessId, "the hook client's parent is the process that ran it");
        hookEvent.Fields.StartSource.Should().Be(SessionStartSource.Startup);
        Guid.TryParse(hookEvent.EventId, out _).Should().BeTrue();
        agent.Responder.Commits.Should().Equal(hookEvent.EventId);
        Directory.Exists(agent.Paths.DropDirectory).Should().BeFalse("nothing was dropped");
    }

    [Fact]
    public async Task Hook_RunByAShell_ReportsTheShellsParentAsClaude()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        // Shell form: Claude runs `sh -c "<command>"`; the trailing ': ' keeps sh from exec'ing the command in its place.
        var environment = new Dictionary<string, string>(agent.Paths.Environment) { [HookCommand.DeadlineVariable] = Patient };
        var result = await AgentProcess.RunAsync(["-c", AgentProcess.CommandLine("hook") + "; :"], environment, HookPayloads.SessionStart(), timeout.Token, program: "/bin/sh");

        result.ExitCode.Should().Be(0, result.Stderr);
        agent.Spool.HookEvents.Should().ContainSingle().Which.Session.ClaudePid.Should().Be(Environment.ProcessId);
    }

    [Fact]
    public async Task Hook_AgentDown_ExitsZeroQuicklyPrintsNothingAndLeavesADropFile()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        var payload = HookPayloads.SessionStart();

        var result = await AgentProcess.RunAsync(["hook"], paths.Environment, payload, timeout.Token);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().BeEmpty();
        // On a loaded machine the 1 s deadline can pass before the connection is even refused: both are failing open.
        result.Stderr.Should().Match(e => e.Contains("not reachable") || e.Contains("did not answer within"));
        result.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "fails open within about a second (plus process start)");
        var drop = Directory.GetFiles(paths.DropDirectory, "*.hook").Should().ContainSingle().Subject;
        File.GetUnixFileMode(drop).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var request = HookRequest.Parser.ParseFrom(File.ReadAllBytes(drop));
        request.RawJson.Should().Be(payload);
        Path.GetFileNameWithoutExtension(drop).Should().Be(request.EventId);
        request.ClaudePid.Should().Be(Environment.ProcessId);
        request.ReceivedAt.Should().NotBeNull();
        request.ClientVersion.Should().NotBeEmpty();
    }

    [Fact]
    public async Task Hook_AgentUpButStuck_GivesUpAfterAboutASecondAndLeavesADropFile()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.State.Stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var result = await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, HookPayloads.SessionStart(), timeout.Token);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("did not answer within 1 s");
        result.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3));
        Directory.GetFiles(agent.Paths.DropDirectory, "*.hook").Should().ContainSingle();
    }

    [Fact]
    public async Task Hook_MalformedInput_ExitsZeroWithoutDropping()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        var environment = new Dictionary<string, string>(agent.Paths.Environment) { [HookCommand.DeadlineVariable] = Patient };
        var result = await AgentProcess.RunAsync(["hook"], environment, "not json", timeout.Token);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("refused").And.Contain("not valid JSON");
        Directory.Exists(agent.Paths.DropDirectory).Should().BeFalse();
        agent.Spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task Start_WithDropFiles_ReplaysEachOnceDeletesThemAndMovesGarbageAside()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        var requests = Enumerable.Range(0, 3).Select(i => new HookRequest
        {
            EventId = Guid.NewGuid().ToString(),
            RawJson = HookPayloads.SessionStart(),
            ClaudePid = 1000 + i,
            ReceivedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        }).ToList();
        foreach (var request in requests)
        {
            HookDropFiles.Write(paths.DropDirectory, request);
        }

        File.WriteAllBytes(Path.Combine(paths.DropDirectory, "garbage.hook"), [0xff, 0xff, 0xff, 0x01]);
        HookDropFiles.Write(paths.DropDirectory, new HookRequest { EventId = "not-a-hook", RawJson = "[]" });

        await using var agent = await TestAgent.StartAsync(timeout.Token, paths);
        await agent.App.Services.GetRequiredService<HookDropReplayer>().FirstPassCompleted.WaitAsync(timeout.Token);

        var events = agent.Spool.HookEvents;
        events.Select(e => e.EventId).Should().BeEquivalentTo(requests.Select(r => r.EventId));
        events.Should().AllSatisfy(e => e.Transport.Should().Be(HookTransport.CommandReplayed));
        events.Select(e => e.Session.ClaudePid).Should().BeEquivalentTo([1000, 1001, 1002]);
        agent.Responder.Calls.Should().BeEmpty("nobody waits for a replayed hook's answer");
        Directory.GetFiles(paths.DropDirectory).Should().BeEmpty();
        Directory.GetFiles(Path.Combine(paths.DropDirectory, HookDropFiles.MalformedDirectoryName)).Select(Path.GetFileName)
            .Should().BeEquivalentTo(["garbage.hook", "not-a-hook.hook"]);
    }

    [Fact]
    public async Task Replay_SpoolRefuses_KeepsTheFileForTheNextPass()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        var spool = new FakeSpool { BeforeAppend = (_, _) => throw new IOException("spool full") };
        HookDropFiles.Write(paths.DropDirectory, new HookRequest { EventId = Guid.NewGuid().ToString(), RawJson = HookPayloads.SessionStart() });

        await using var agent = await TestAgent.StartAsync(timeout.Token, paths, spool: spool);
        var replayer = agent.App.Services.GetRequiredService<HookDropReplayer>();
        await replayer.FirstPassCompleted.WaitAsync(timeout.Token);

        Directory.GetFiles(paths.DropDirectory, "*.hook").Should().ContainSingle();
        spool.BeforeAppend = null;
        (await replayer.ReplayOnceAsync(timeout.Token)).Should().Be(1);
        Directory.GetFiles(paths.DropDirectory, "*.hook").Should().BeEmpty();
        spool.HookEvents.Should().ContainSingle();
    }

    [Fact]
    public async Task Replay_OfAHookTheAgentAnsweredAfterTheClientGaveUp_IsNotSpooledAgain()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        var request = new HookRequest { EventId = Guid.NewGuid().ToString(), RawJson = HookPayloads.SessionStart() };
        await agent.App.Services.GetRequiredService<IHookProcessor>().ProcessCommandHookAsync(request, timeout.Token);
        HookDropFiles.Write(agent.Paths.DropDirectory, request);

        await agent.App.Services.GetRequiredService<HookDropReplayer>().ReplayOnceAsync(timeout.Token);

        agent.Spool.HookEvents.Should().ContainSingle();
        Directory.GetFiles(agent.Paths.DropDirectory, "*.hook").Should().BeEmpty();
    }

    [Fact]
    public void ClaudeProcess_ParentIsAShell_IsTheGrandparent()
    {
        using var root = new TempDirectory("relay-proc-");
        Proc(root.Path, 300, "relay-agent", parent: 200);
        Proc(root.Path, 200, "sh", parent: 100);
        Proc(root.Path, 100, "claude", parent: 1);
        Proc(root.Path, 301, "relay-agent", parent: 100);
        Proc(root.Path, 302, "relay-agent", parent: 1);

        HookCommand.ClaudeProcess.Find(300, root.Path).Should().Be(100);
        HookCommand.ClaudeProcess.Find(301, root.Path).Should().Be(100);
        HookCommand.ClaudeProcess.Find(302, root.Path).Should().Be(0, "an orphan has no Claude");
        HookCommand.ClaudeProcess.Find(999, root.Path).Should().Be(0);
    }

    private static void Proc(string root, int pid, string comm, int parent)
    {
        var directory = Directory.CreateDirectory(Path.Combine(root, pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
        File.WriteAllText(Path.Combine(directory, "comm"), comm + "\n");
        File.WriteAllText(Path.Combine(directory, "stat"), $"{pid} ({comm} (x) y) S {parent} {pid} {pid} 0 -1 4194560");
    }
}
