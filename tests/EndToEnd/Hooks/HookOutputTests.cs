using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;
using Xunit.Abstractions;

namespace Relay.EndToEnd.Tests.Hooks;

/// <summary>
/// What hook output the real Claude Code honours, seen from the Messages API side: context that reaches the model's
/// next request, a Stop block that makes Claude continue with the reason (Relay's fallback prompt delivery), and
/// permission decisions.
/// </summary>
public sealed class HookOutputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClaudeCodeHome _home = new();
    private MessagesApiStub _stub = null!;
    private HttpHookRecorder _http = null!;

    public async Task InitializeAsync()
    {
        _stub = await MessagesApiStub.StartAsync();
        _http = await HttpHookRecorder.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        await _http.DisposeAsync();
        _home.Dispose();
    }

    [ClaudeCodeFact]
    public async Task SessionStart_CommandAdditionalContext_ReachesTheFirstRequest()
    {
        var command = new CommandHookRecorder(_home);
        command.RespondWith("SessionStart", Output("SessionStart", new JsonObject { ["additionalContext"] = "Relay briefing: ctx-session-start-7." }));

        var run = await RunAsync(command.AddTo(new HookSettings(), "SessionStart"));

        run.ExitCode.Should().Be(0, run.Describe());
        Show("SessionStart additionalContext", _stub.TurnRequests[0], "ctx-session-start-7").Should().NotBeNull();
    }

    [ClaudeCodeFact]
    public async Task SessionStart_CommandPlainStdout_ReachesTheFirstRequest()
    {
        var command = new CommandHookRecorder(_home);
        command.RespondWith("SessionStart", JsonValue.Create("Plain stdout: ctx-plain-8."));

        var run = await RunAsync(command.AddTo(new HookSettings(), "SessionStart"));

        run.ExitCode.Should().Be(0, run.Describe());
        Show("SessionStart plain stdout", _stub.TurnRequests[0], "ctx-plain-8").Should().NotBeNull();
    }

    [ClaudeCodeFact]
    public async Task UserPromptSubmit_HttpAdditionalContext_ReachesTheFirstRequest()
    {
        _http.Respond = hook => hook.Event == "UserPromptSubmit"
            ? Output("UserPromptSubmit", new JsonObject { ["additionalContext"] = "ctx-prompt-submit-9" })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "UserPromptSubmit"));

        run.ExitCode.Should().Be(0, run.Describe());
        Show("UserPromptSubmit additionalContext", _stub.TurnRequests[0], "ctx-prompt-submit-9").Should().NotBeNull();
    }

    [ClaudeCodeFact]
    public async Task PreToolUse_HttpAdditionalContext_ReachesTheNextRequest()
    {
        _stub.EnqueueToolUse("Bash", new { command = "echo tool-ran", description = "Echo" });
        _http.Respond = hook => hook.Event == "PreToolUse"
            ? Output("PreToolUse", new JsonObject { ["additionalContext"] = "ctx-pre-tool-10" })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "PreToolUse"), allowedTools: ["Bash"]);

        run.ExitCode.Should().Be(0, run.Describe());
        _stub.TurnRequests[0].MessagesContain("ctx-pre-tool-10").Should().BeFalse();
        Show("PreToolUse additionalContext", _stub.TurnRequests[1], "ctx-pre-tool-10").Should().NotBeNull();
        _stub.TurnRequests[1].LastMessageContains("ctx-pre-tool-10").Should().BeTrue("it follows the tool result as a role:system message");
    }

    [ClaudeCodeFact]
    public async Task PostToolUse_HttpAdditionalContext_ReachesTheNextRequest()
    {
        _stub.EnqueueToolUse("Bash", new { command = "echo tool-ran", description = "Echo" });
        _http.Respond = hook => hook.Event == "PostToolUse"
            ? Output("PostToolUse", new JsonObject { ["additionalContext"] = "ctx-post-tool-11" })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "PostToolUse"), allowedTools: ["Bash"]);

        run.ExitCode.Should().Be(0, run.Describe());
        Show("PostToolUse additionalContext", _stub.TurnRequests[1], "ctx-post-tool-11").Should().NotBeNull();
        _stub.TurnRequests[1].LastMessageContains("ctx-post-tool-11").Should().BeTrue("it follows the tool result as a role:system message");
    }

    [ClaudeCodeFact]
    public async Task Stop_HttpDecisionBlock_ClaudeContinuesWithTheReasonAndCanCallATool()
    {
        const string Prompt = "Relay prompt prm-12: say hello to the team.";
        _stub.EnqueueText("First answer.");
        // Relay's fallback delivery: the prompt arrives as the Stop hook's block reason; the model answers with a tool call.
        _stub.Fallback = request => request.LastMessageContains("prm-12") && request.AssistantMessages == 1
            ? StubTurn.ToolUse("Bash", new { command = "echo reply-to-prm-12", description = "Reply" })
            : StubTurn.Text("Replied.");
        _http.Respond = hook => hook.Event == "Stop" && (bool?)hook.Payload["stop_hook_active"] == false
            ? new JsonObject { ["decision"] = "block", ["reason"] = Prompt }
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "Stop"), allowedTools: ["Bash"]);

        run.ExitCode.Should().Be(0, run.Describe());
        run.ResultText.Should().Be("Replied.");
        var continued = _stub.TurnRequests.Should().HaveCount(3).And.Subject.ElementAt(1);
        Show("Stop block reason", continued, "prm-12").Should().NotBeNull();
        _stub.TurnRequests[2].LastToolResults.Single().ToJsonString().Should().Contain("reply-to-prm-12");
        _http.Of("Stop").Select(h => (bool?)h.Payload["stop_hook_active"]).Should().Equal(false, true);
    }

    [ClaudeCodeFact]
    public async Task PreToolUse_HttpPermissionDecisionDeny_BlocksTheToolAndTellsClaudeWhy()
    {
        var marker = _home.PathFor("denied-marker");
        _stub.EnqueueToolUse("Bash", new { command = $"touch {marker}", description = "Touch" });
        _http.Respond = hook => hook.Event == "PreToolUse"
            ? Output("PreToolUse", new JsonObject { ["permissionDecision"] = "deny", ["permissionDecisionReason"] = "Relay policy: no-touch-13." })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "PreToolUse"), allowedTools: ["Bash"]);

        run.ExitCode.Should().Be(0, run.Describe());
        File.Exists(marker).Should().BeFalse();
        var result = _stub.TurnRequests[1].LastToolResults.Should().ContainSingle().Subject;
        ((bool?)result["is_error"]).Should().BeTrue();
        Show("PreToolUse deny reason", _stub.TurnRequests[1], "no-touch-13").Should().NotBeNull();
    }

    [ClaudeCodeFact]
    public async Task PermissionRequest_HttpDecisionAllow_RunsTheTool()
    {
        var file = Path.Combine(_home.ProjectDirectory, "allowed.txt");
        _stub.EnqueueToolUse("Write", new { file_path = file, content = "allowed by relay\n" });
        _http.Respond = hook => hook.Event == "PermissionRequest"
            ? Output("PermissionRequest", new JsonObject { ["decision"] = new JsonObject { ["behavior"] = "allow" } })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "PermissionRequest"));

        run.ExitCode.Should().Be(0, run.Describe());
        _http.Of("PermissionRequest").Should().ContainSingle().Which.ToolName.Should().Be("Write");
        File.ReadAllText(file).Should().Be("allowed by relay\n");
    }

    [ClaudeCodeFact]
    public async Task PermissionRequest_HttpDecisionDeny_FailsTheToolWithTheMessage()
    {
        var file = Path.Combine(_home.ProjectDirectory, "denied.txt");
        _stub.EnqueueToolUse("Write", new { file_path = file, content = "x\n" });
        _http.Respond = hook => hook.Event == "PermissionRequest"
            ? Output("PermissionRequest", new JsonObject { ["decision"] = new JsonObject { ["behavior"] = "deny", ["message"] = "Denied from relayctl: deny-14." } })
            : null;

        var run = await RunAsync(_http.AddTo(new HookSettings(), null, null, "PermissionRequest"));

        run.ExitCode.Should().Be(0, run.Describe());
        File.Exists(file).Should().BeFalse();
        var result = _stub.TurnRequests[1].LastToolResults.Should().ContainSingle().Subject;
        ((bool?)result["is_error"]).Should().BeTrue();
        Show("PermissionRequest deny message", _stub.TurnRequests[1], "deny-14").Should().NotBeNull();
    }

    [ClaudeCodeFact]
    public async Task HttpHook_EndpointDown_FailsOpenAndTheToolRuns()
    {
        // A port that was just free: nothing listens, so every hook POST is refused.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var down = new Uri($"http://127.0.0.1:{port}/hooks/");
        var settings = new HookSettings();
        foreach (var hookEvent in new[] { "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop" })
        {
            settings.Http(hookEvent, new Uri(down, hookEvent));
        }

        var marker = _home.PathFor("ran-marker");
        _stub.EnqueueToolUse("Bash", new { command = $"touch {marker}", description = "Touch" });

        var run = await RunAsync(settings, allowedTools: ["Bash"]);

        run.ExitCode.Should().Be(0, run.Describe());
        File.Exists(marker).Should().BeTrue();
        output.WriteLine($"run with every http hook refused took {run.Elapsed.TotalSeconds:F1} s");
    }

    private static JsonObject Output(string hookEvent, JsonObject fields)
    {
        var specific = new JsonObject { ["hookEventName"] = hookEvent };
        foreach (var (name, value) in fields)
        {
            specific[name] = value?.DeepClone();
        }

        return new JsonObject { ["hookSpecificOutput"] = specific };
    }

    private async Task<ClaudeCodeRunResult> RunAsync(HookSettings settings, IReadOnlyList<string>? allowedTools = null)
    {
        using var timeout = TestTimeout.Start();
        return await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, new ClaudeCodeRunOptions
        {
            Prompt = "Do the scripted thing.",
            Settings = settings.Build(),
            AllowedTools = allowedTools ?? [],
        }, timeout.Token);
    }

    // Where the marker sits (message index and role, and the text around it), written to the test output: the README
    // quotes these shapes.
    private string? Show(string what, StubRequest request, string marker)
    {
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i]!;
            var text = new StubRequestText(message).Find(marker);
            if (text is not null)
            {
                var at = text.IndexOf(marker, StringComparison.Ordinal);
                var window = text[Math.Max(0, at - 120)..Math.Min(text.Length, at + marker.Length + 60)];
                output.WriteLine($"{what}: messages[{i}/{request.Messages.Count}] role={(string?)message["role"]}: …{System.Text.Json.JsonSerializer.Serialize(window)}…");
                return text;
            }
        }

        output.WriteLine($"{what}: (absent)");
        return null;
    }

    private sealed class StubRequestText(JsonNode message)
    {
        public string? Find(string marker) => Strings(message).FirstOrDefault(s => s.Contains(marker, StringComparison.Ordinal));

        private static IEnumerable<string> Strings(JsonNode? node) => node switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => [s],
            JsonArray a => a.SelectMany(Strings),
            JsonObject o => o.SelectMany(p => Strings(p.Value)),
            _ => [],
        };
    }
}
