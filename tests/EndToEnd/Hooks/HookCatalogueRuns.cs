using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Hooks;

/// <summary>
/// Three real <c>claude -p</c> runs with a recording command hook <b>and</b> a recording http hook on every hook event,
/// shared by the catalogue tests: (A) a conversation that runs Bash (with a <c>cd</c>), a failing Bash, a Write that
/// needs permission and a subagent, with a CLAUDE.md and <c>--init</c>; (B) <c>/compact</c> on A's session
/// (<c>--resume</c>); (C) a turn that fails with an API error.
/// </summary>
public sealed class HookCatalogueRuns : IAsyncLifetime
{
    public const string Secret = "s3cret-hook-value";
    public const string NotAllowedValue = "must-not-leak";
    public const string SubagentTask = "SUBAGENT-TASK: list nothing and stop.";

    public ClaudeCodeHome Home { get; } = new("relay-catalogue-");

    public MessagesApiStub Stub { get; private set; } = null!;

    public HttpHookRecorder Http { get; private set; } = null!;

    public CommandHookRecorder Command { get; private set; } = null!;

    public Guid SessionId { get; } = Guid.NewGuid();

    public Guid FailingSessionId { get; } = Guid.NewGuid();

    public IReadOnlyList<ClaudeCodeRunResult> Runs { get; private set; } = [];

    public TimeSpan Elapsed { get; private set; }

    public async Task InitializeAsync()
    {
        if (ClaudeCodeInstallation.MissingReason is not null)
        {
            return; // the tests are skipped with the reason
        }

        using var timeout = TestTimeout.Start();
        Stub = await MessagesApiStub.StartAsync(timeout.Token);
        Http = await HttpHookRecorder.StartAsync(timeout.Token);
        Command = new CommandHookRecorder(Home);
        await File.WriteAllTextAsync(Path.Combine(Home.ProjectDirectory, "CLAUDE.md"), "# Project notes\n", timeout.Token);

        var settings = new HookSettings();
        Command.AddTo(settings, HookEvents.All);
        Http.AddTo(
            settings,
            new Dictionary<string, string>
            {
                ["X-Relay-Secret"] = "$RELAY_HOOK_SECRET",
                ["Authorization"] = "Bearer ${RELAY_HOOK_SECRET}",
                ["X-Not-Allowed"] = "$RELAY_NOT_ALLOWED",
                ["X-Static"] = "static-value",
            },
            ["RELAY_HOOK_SECRET"],
            HookEvents.All);
        var env = new Dictionary<string, string?> { ["RELAY_HOOK_SECRET"] = Secret, ["RELAY_NOT_ALLOWED"] = NotAllowedValue };
        var scratch = Home.TempDirectory;

        // Where a step of the main conversation is, is the number of assistant messages so far; the background
        // subagent's requests are told apart by their task text, so the interleaving does not matter.
        Stub.Fallback = request =>
        {
            if (request.FirstUserText.Contains(SubagentTask, StringComparison.Ordinal))
            {
                return StubTurn.Text("sub done");
            }

            return request.AssistantMessages switch
            {
                0 => StubTurn.ToolUse("Bash", new { command = $"cd {scratch} && echo catalogue", description = "Change directory" }),
                1 => StubTurn.ToolUse("Bash", new { command = "exit 3", description = "Fail on purpose" }),
                2 => StubTurn.ToolUse("Write", new { file_path = Path.Combine(Home.ProjectDirectory, "note.txt"), content = "hello\n" }),
                3 => StubTurn.ToolUse("Agent", new { description = "Look around", prompt = SubagentTask, subagent_type = "general-purpose" }),
                4 => StubTurn.Text("All done."),
                _ => StubTurn.Text("Noted."),
            };
        };

        var started = System.Diagnostics.Stopwatch.StartNew();
        var runs = new List<ClaudeCodeRunResult>
        {
            await ClaudeCodeCli.RunAsync(Home, Stub.BaseUrl, new ClaudeCodeRunOptions
            {
                Prompt = "Walk through the catalogue.",
                SessionId = SessionId,
                Settings = settings.Build(),
                AllowedTools = ["Bash", "Agent"],
                ExtraArguments = ["--init"],
                Environment = env,
            }, timeout.Token),
            await ClaudeCodeCli.RunAsync(Home, Stub.BaseUrl, new ClaudeCodeRunOptions
            {
                Prompt = "/compact",
                SessionId = SessionId,
                Resume = true,
                Settings = settings.Build(),
                Environment = env,
            }, timeout.Token),
        };

        Stub.Fallback = _ => StubTurn.Failure(400, "invalid_request_error", "The stub refuses this request.");
        runs.Add(await ClaudeCodeCli.RunAsync(Home, Stub.BaseUrl, new ClaudeCodeRunOptions
        {
            Prompt = "This one fails.",
            SessionId = FailingSessionId,
            Settings = settings.Build(),
            Environment = env,
        }, timeout.Token));
        Elapsed = started.Elapsed;
        Runs = runs;
    }

    public async Task DisposeAsync()
    {
        if (Stub is not null)
        {
            await Stub.DisposeAsync();
        }

        if (Http is not null)
        {
            await Http.DisposeAsync();
        }

        Home.Dispose();
    }
}
