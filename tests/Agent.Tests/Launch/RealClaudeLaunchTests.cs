using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Agent.Launch;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;
using Xunit.Abstractions;

namespace Relay.Agent.Tests.Launch;

/// <summary>The launcher with the real Claude Code CLI (pinned, offline, against the Messages API stub).</summary>
public sealed class RealClaudeLaunchTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClaudeCodeHome _home = new("relay-real-launch-");
    private readonly string _socketName = "relay-real-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private MessagesApiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await MessagesApiStub.StartAsync();

    public async Task DisposeAsync()
    {
        // The server is usually gone already: it exits with its last session.
        var start = new ProcessStartInfo("tmux", ["-L", _socketName, "kill-server"]) { RedirectStandardError = true };
        using var kill = Process.Start(start)!;
        await kill.StandardError.ReadToEndAsync();
        await kill.WaitForExitAsync();
        await _stub.DisposeAsync();
        _home.Dispose();
    }

    [ClaudeCodeFact(RequiresTmux = true)]
    public async Task LaunchAndStop_RealClaude_RunsWithTheSessionIdAndExitsOnSlashExit()
    {
        using var timeout = TestTimeout.Start();
        // Onboarding and the API key are pre-answered (as a user would have); the workspace is left for the launcher.
        _home.PreApproveInteractive(ClaudeCodeEnvironment.ApiKey, directory: Path.Combine(_home.Root, "elsewhere"));
        _stub.EnqueueText("Real answer relay-launch-7.");
        var environment = ClaudeCodeEnvironment.Build(_home, _stub.BaseUrl);
        var options = new LauncherOptions
        {
            TmuxSocketName = _socketName,
            ClaudeCommand = ClaudeCodeInstallation.EntryPoint,
            ConfirmationTimeout = TimeSpan.FromSeconds(60),
            PollInterval = TimeSpan.FromMilliseconds(200),
            PassEnvironment = [.. environment.Keys.Where(k => k is not ("PWD" or "OLDPWD" or "SHLVL" or "_"))],
            TmuxConfigFile = _home.PathFor("tmux.conf"),
        };
        var launcher = new TmuxLauncher(options, TimeProvider.System, NullLogger.Instance, n => environment.TryGetValue(n, out var v) ? v : null);
        var spec = new LaunchSpec(Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), _home.ProjectDirectory, "real", []);
        var watch = Stopwatch.StartNew();

        var launched = await launcher.LaunchAsync(spec, timeout.Token);

        output.WriteLine($"launch took {watch.Elapsed.TotalSeconds:F1} s: {launched}");
        launched.Error.Should().BeNull();
        launched.Started.Should().BeTrue();
        var argv = LinuxProcess.CommandLine(launched.ClaudePid);
        output.WriteLine("claude argv: " + string.Join(' ', argv));
        argv.Should().Contain(spec.ClaudeSessionId).And.Contain("--dangerously-load-development-channels");
        Path.GetFileName(argv[0]).Should().StartWith("claude");
        var state = JsonNode.Parse(File.ReadAllText(_home.ClaudeJsonPath))!;
        state["projects"]![_home.ProjectDirectory]!["hasTrustDialogAccepted"]!.GetValue<bool>().Should().BeTrue();

        // The session is usable and is the one we named: a typed prompt reaches the stub with our session id.
        await Tmux("send-keys", "-t", launched.TmuxTarget, "-l", "hello from the launcher");
        await Tmux("send-keys", "-t", launched.TmuxTarget, "Enter");
        var request = await _stub.WaitForRequestAsync(r => r.Kind == StubRequestKind.Turn && r.MessagesContain("hello from the launcher"), timeout.Token);
        request.SessionId.Should().Be(spec.ClaudeSessionId);

        watch.Restart();
        var stopped = await launcher.StopAsync(new StopSpec(launched.ClaudePid, launched.TmuxTarget, Force: false, TimeSpan.FromSeconds(20)), timeout.Token);

        output.WriteLine($"graceful stop took {watch.Elapsed.TotalSeconds:F1} s");
        stopped.Stopped.Should().BeTrue(stopped.Error);
        LinuxProcess.IsAlive(launched.ClaudePid).Should().BeFalse();
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "/exit ends Claude before the SIGTERM at half the grace period");
    }

    private async Task Tmux(params string[] arguments)
    {
        using var process = Process.Start("tmux", ["-L", _socketName, .. arguments]);
        await process.WaitForExitAsync();
        process.ExitCode.Should().Be(0);
    }
}
