using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;
using Xunit.Abstractions;

namespace Relay.EndToEnd.Tests.Harness;

/// <summary>The harness in interactive mode: the real <c>claude</c> TUI in a private tmux server.</summary>
public sealed class ClaudeCodeTmuxTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClaudeCodeHome _home = new();
    private MessagesApiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await MessagesApiStub.StartAsync();

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        _home.Dispose();
    }

    [ClaudeCodeFact(RequiresTmux = true)]
    public async Task Tmux_TypedPrompt_ReachesTheStubAndTheAnswerIsShown()
    {
        using var timeout = TestTimeout.Start();
        _stub.EnqueueText("Interactive answer tmux-15.");
        var command = new CommandHookRecorder(_home);
        var options = new ClaudeCodeRunOptions { Prompt = string.Empty, Settings = command.AddTo(new HookSettings(), "SessionStart", "Stop").Build() };
        var started = System.Diagnostics.Stopwatch.StartNew();

        await using var tmux = await ClaudeCodeTmux.StartAsync(_home, _stub.BaseUrl, options, timeout.Token);
        // No onboarding, API-key or trust screen: the prompt box (with its permission-mode footer) comes straight up.
        var ready = await tmux.WaitForTextAsync(ClaudeCodeTmux.PromptReadyText, TimeSpan.FromSeconds(30), timeout.Token);
        output.WriteLine($"prompt box after {started.Elapsed.TotalSeconds:F1} s:\n{ready}");
        await tmux.SendTextAsync("hello from tmux", timeout.Token);
        await tmux.SendKeysAsync(timeout.Token, "Enter");

        var request = await _stub.WaitForRequestAsync(r => r.Kind == StubRequestKind.Turn && r.MessagesContain("hello from tmux"), timeout.Token);
        var screen = await tmux.WaitForTextAsync("Interactive answer tmux-15.", TimeSpan.FromSeconds(30), timeout.Token);
        output.WriteLine(screen);
        output.WriteLine("requests: " + string.Join(", ", _stub.Requests.Select(r => r.ToString())));

        request.SessionId.Should().Be(options.SessionId.ToString());
        command.Of("SessionStart").Should().ContainSingle().Which.SessionId.Should().Be(options.SessionId.ToString());
    }
}
