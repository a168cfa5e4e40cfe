using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Agent.Launch;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Launch;

/// <summary>
/// A temporary HOME, a workspace, a fake claude and a tmux server of its own (a unique <c>-L</c> socket), killed on
/// dispose together with everything it runs.
/// </summary>
internal sealed class LauncherTestBed : IDisposable
{
    private readonly TempDirectory _root = new("relay-launch-");

    public LauncherTestBed(FakeClaudeMode mode = FakeClaudeMode.Dialog)
    {
        Directory.CreateDirectory(_root.Path);
        Home = Path.Combine(_root.Path, "home");
        Workspace = Path.Combine(_root.Path, "work space");
        Directory.CreateDirectory(Home);
        Directory.CreateDirectory(Workspace);
        Claude = new FakeClaude(_root.Path, mode);
        SocketName = "relay-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        Options = new LauncherOptions
        {
            TmuxSocketName = SocketName,
            ClaudeCommand = "claude",
            ConfirmationTimeout = TimeSpan.FromSeconds(20),
            PollInterval = TimeSpan.FromMilliseconds(100),
            ClaudeStateFile = Path.Combine(Home, ".claude.json"),
            TmuxConfigFile = Path.Combine(_root.Path, "tmux.conf"),
        };
        Environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["PATH"] = Claude.BinDirectory + ":" + System.Environment.GetEnvironmentVariable("PATH"),
            ["HOME"] = Home,
            ["RELAY_AGENT_SOCKET"] = Path.Combine(_root.Path, "agent.sock"),
            ["RELAY_AGENT_STATE_DIR"] = Path.Combine(_root.Path, "state"),
        };
    }

    public string Home { get; }

    public string Workspace { get; }

    public FakeClaude Claude { get; }

    public string SocketName { get; }

    public LauncherOptions Options { get; }

    public Dictionary<string, string?> Environment { get; }

    public string StateFile => Options.ClaudeStateFile!;

    public TmuxLauncher CreateLauncher() =>
        new(Options, TimeProvider.System, NullLogger.Instance, name => Environment.TryGetValue(name, out var value) ? value : null);

    public LaunchSpec Spec(string? name = null, params string[] claudeArguments) =>
        new(Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString(), Workspace, name, claudeArguments);

    /// <summary>Runs a tmux command on the test bed's server.</summary>
    public (int ExitCode, string Output) Tmux(params string[] arguments)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(SocketName);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit(10_000).Should().BeTrue("tmux answers within ten seconds");
        return (process.ExitCode, output);
    }

    public bool HasSession(string name) => Tmux("has-session", "-t", "=" + name).ExitCode == 0;

    public void Dispose()
    {
        Tmux("kill-server");
        _root.Dispose();
    }
}
