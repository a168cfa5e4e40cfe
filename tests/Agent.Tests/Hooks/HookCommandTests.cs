using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Relay.Agent.Hooks;
using Relay.Agent.Hooks.Client;
using Relay.Agent.Tests.Hooks.Client;
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
    public async Task Hook_AgentAnswersWithALargeBriefing_PrintsItWhole()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        // Far more than HTTP/2's default 64 KiB window and frame size: the client must have opened its window.
        var briefing = string.Concat(Enumerable.Range(0, 20_000).Select(i => "line " + i + " of the briefing.\n"));
        agent.Responder.Answer(_ => FakeResponder.SessionStartContext(briefing));
        var environment = new Dictionary<string, string>(agent.Paths.Environment) { [HookCommand.DeadlineVariable] = Patient };

        var result = await AgentProcess.RunAsync(["hook"], environment, HookPayloads.SessionStart(), timeout.Token);

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stdout.Should().EndWith("}\n");
        JsonNode.Parse(result.Stdout)!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Be(briefing);
    }

    [Fact]
    public async Task Hook_LargeInput_ReachesTheAgentWhole()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        // Close to the client's 1 MiB limit: more than the agent's stream window, so the client waits for WINDOW_UPDATE.
        var payload = HookPayloads.Of("SessionStart", extra: p =>
        {
            p["source"] = "startup";
            p["padding"] = new string('p', 1000 * 1000);
        });
        var environment = new Dictionary<string, string>(agent.Paths.Environment) { [HookCommand.DeadlineVariable] = Patient };

        var result = await AgentProcess.RunAsync(["hook"], environment, payload, timeout.Token);

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stderr.Should().BeEmpty();
        agent.Spool.HookEvents.Should().ContainSingle().Which.RawJsonSize.Should().Be((ulong)Encoding.UTF8.GetByteCount(payload));
    }

    [Fact]
    public async Task Hook_InputOverTheLimit_SaysSoAndRecordsNothing()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        var payload = HookPayloads.Of("SessionStart", extra: p => p["padding"] = new string('p', HookCommand.MaxInputBytes));

        var result = await AgentProcess.RunAsync(["hook"], agent.Paths.Environment, payload, timeout.Token);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("could not read the hook input").And.Contain("larger than");
        agent.Spool.HookEvents.Should().BeEmpty();
        Directory.Exists(agent.Paths.DropDirectory).Should().BeFalse();
    }

    [Fact]
    public async Task Hook_AgentStoppedAccepting_FailsOpenWithinTheDeadline()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory);

        // A listener whose backlog is full: a blocking connect to it would wait for ever.
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(paths.Socket));
        listener.Listen(0);
        var queued = new List<Socket>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                queued.Add(client);
                try
                {
                    client.Connect(new UnixDomainSocketEndPoint(paths.Socket));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
                {
                    break;
                }
            }

            var environment = new Dictionary<string, string>(paths.Environment) { [HookCommand.DeadlineVariable] = "500" };
            var result = await AgentProcess.RunAsync(["hook"], environment, HookPayloads.SessionStart(), timeout.Token);

            result.ExitCode.Should().Be(0);
            result.Stdout.Should().BeEmpty();
            result.Stderr.Should().Contain("did not answer within 0.5 s");
            result.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "half a second, plus process start");
            Directory.GetFiles(paths.DropDirectory, "*.hook").Should().ContainSingle();
        }
        finally
        {
            queued.ForEach(s => s.Dispose());
        }
    }

    // What the hook path must not load: each of these cost the client's cold start milliseconds (docs/agent.md, "Hook
    // client start time"). Read from the running client's memory map once it has sent its request.
    private static readonly string[] NotOnTheHookPath =
    [
        "Google.Protobuf.dll", "System.CommandLine.dll", "OpenTelemetry", "Microsoft.Extensions.", "Microsoft.AspNetCore.",
        "System.Net.Sockets.dll", "System.Net.Http.dll", "System.Console.dll", "System.Linq.dll", "System.Text.Json.dll",
        "System.Collections.dll",
    ];

    [Fact]
    public async Task Hook_UpToItsRequest_LoadsNoAssemblyItDoesNotNeedAndSendsAHookRequest()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory);
        var environment = new Dictionary<string, string>(paths.Environment) { [HookCommand.DeadlineVariable] = Patient };
        using var process = AgentProcess.Start(["hook"], environment);
        try
        {
            await using (var server = FakeHttp2Server.Listen(paths.Socket, timeout.Token))
            {
                await server.AcceptAsync();
                var body = await server.ReadBodyAsync();

                var request = HookRequest.Parser.ParseFrom(body.AsSpan(5));
                request.EventId.Should().MatchRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
                request.ClientVersion.Should().NotBeEmpty();
                request.ReceivedAt.ToDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
                var mapped = File.ReadAllLines("/proc/" + process.Id + "/maps")
                    .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? string.Empty)
                    .Where(file => file.EndsWith(".dll", StringComparison.Ordinal))
                    .Select(Path.GetFileName)
                    .Distinct()
                    .ToList();
                mapped.Should().Contain("relay-agent.dll", "the memory map lists the loaded assemblies");
                mapped.Should().NotContain(file => NotOnTheHookPath.Any(prefix => file!.StartsWith(prefix, StringComparison.Ordinal)));
            }

            // The agent went away without answering: the client fails open.
            await process.WaitForExitAsync(timeout.Token);
            process.ExitCode.Should().Be(0);
            Directory.GetFiles(paths.DropDirectory, "*.hook").Should().ContainSingle();
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    public static TheoryData<string, byte[], string> BrokenAgents => new()
    {
        { "oversized frame", [0x00, 0x4e, 0x20, Http2.Data, 0, 0, 0, 0, 1], "Internal: the server sent a frame of 20000 bytes, more than the 16384 this client allows (HTTP/2 FRAME_SIZE_ERROR)" },
        { "GOAWAY", FakeHttp2Server.FrameBytes(Http2.GoAway, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0xb]), "Unavailable: the server refused the call (GOAWAY ENHANCE_YOUR_CALM)" },
        { "RST_STREAM", FakeHttp2Server.FrameBytes(Http2.RstStream, 0, 1, [0, 0, 0, 2]), "Internal: the server reset the call (RST_STREAM INTERNAL_ERROR)" },
        { "malformed HPACK", FakeHttp2Server.FrameBytes(Http2.Headers, Http2.FlagEndHeaders, 1, [0x80]), "COMPRESSION_ERROR" },
    };

    [Theory]
    [MemberData(nameof(BrokenAgents))]
    public async Task Run_AgentBreaksTheProtocol_FailsOpenWithADropFileAndTheReasonOnStderr(string what, byte[] answer, string reason)
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory);
        await using var server = FakeHttp2Server.Listen(paths.Socket, timeout.Token);
        var payload = HookPayloads.SessionStart();
        using var stdin = new MemoryStream(Encoding.UTF8.GetBytes(payload));
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var environment = new Dictionary<string, string>(paths.Environment) { [HookCommand.DeadlineVariable] = Patient };

        var run = Task.Run(() => HookCommand.Run(stdin, stdout, stderr, name => environment.GetValueOrDefault(name)));
        await server.AcceptAsync();
        await server.WriteRawAsync(answer);

        (await run.WaitAsync(timeout.Token)).Should().Be(0);
        stdout.Length.Should().Be(0, what);
        var message = Encoding.UTF8.GetString(stderr.ToArray());
        message.Should().Contain("is not reachable").And.Contain(reason).And.Contain("waits in", what);
        var drop = Directory.GetFiles(paths.DropDirectory, "*.hook").Should().ContainSingle().Subject;
        HookRequest.Parser.ParseFrom(File.ReadAllBytes(drop)).RawJson.Should().Be(payload);
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
