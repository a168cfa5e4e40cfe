using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Install;

/// <summary><c>relay-agent install|uninstall</c> as a real process on a temporary HOME.</summary>
public sealed class InstallCommandTests : IDisposable
{
    private readonly TempDirectory _root = new("relay-install-cli-");
    private readonly Dictionary<string, string> _environment;
    private readonly string _channel;

    public InstallCommandTests()
    {
        var home = Path.Combine(_root.Path, "home");
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(Path.Combine(_root.Path, "bin"));
        _channel = Path.Combine(_root.Path, "bin", "relay-channel");
        File.WriteAllText(_channel, "#!/bin/sh\n");
        File.SetUnixFileMode(_channel, (UnixFileMode)0b111_101_101);
        _environment = new(StringComparer.Ordinal)
        {
            ["HOME"] = home,
            ["RELAY_AGENT_CONFIG_DIR"] = Path.Combine(_root.Path, "config"),
            ["CLAUDE_CONFIG_DIR"] = string.Empty,
            ["XDG_CONFIG_HOME"] = string.Empty,
        };
        SettingsFile = Path.Combine(home, ".claude", "settings.json");
        StateFile = Path.Combine(home, ".claude.json");
    }

    private string SettingsFile { get; }

    private string StateFile { get; }

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Install_ThenUninstall_WritesTheSecretFromAgentJsonAndTakesEverythingOut()
    {
        var install = await AgentProcess.RunAsync(_environment, "install", "--channel-command", _channel, "--permission-timeout", "90");

        install.ExitCode.Should().Be(0, install.Stderr);
        var secret = JsonNode.Parse(File.ReadAllText(Path.Combine(_environment["RELAY_AGENT_CONFIG_DIR"], "agent.json")))!["hook_secret"]!.GetValue<string>();
        secret.Should().StartWith("relay_hook_");
        var hooks = JsonNode.Parse(File.ReadAllText(SettingsFile))!["hooks"]!;
        hooks["PreToolUse"]![0]!["hooks"]![0]!["headers"]!["X-Relay-Hook-Secret"]!.GetValue<string>().Should().Be(secret);
        hooks["PermissionRequest"]![0]!["hooks"]![0]!["timeout"]!.GetValue<int>().Should().Be(90);
        // Run as `dotnet relay-agent.dll`: the SessionStart hook runs the same way, with absolute paths.
        var sessionStart = hooks["SessionStart"]![0]!["hooks"]![0]!;
        Path.GetFileName(sessionStart["command"]!.GetValue<string>()).Should().Be("dotnet");
        sessionStart["args"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal(Path.Combine(AppContext.BaseDirectory, "relay-agent.dll"), "hook");
        install.Stdout.Should().Contain("Not hooked on purpose: WorktreeCreate");

        var uninstall = await AgentProcess.RunAsync(_environment, "uninstall");

        uninstall.ExitCode.Should().Be(0, uninstall.Stderr);
        File.ReadAllText(SettingsFile).Should().Be("{}\n");
        File.ReadAllText(StateFile).Should().Be("{}\n");
    }

    [Fact]
    public async Task Install_DryRun_WritesNoFileAtAll()
    {
        var result = await AgentProcess.RunAsync(_environment, "install", "--dry-run", "--channel-command", _channel);

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stdout.Should().Contain("would be created").And.Contain("@@ -0,0 +1,").And.Contain("\"X-Relay-Hook-Secret\": \"<hook secret>\"");
        File.Exists(SettingsFile).Should().BeFalse();
        File.Exists(StateFile).Should().BeFalse();
        Directory.Exists(_environment["RELAY_AGENT_CONFIG_DIR"]).Should().BeFalse("a dry run does not even make the secret");
    }

    [Fact]
    public async Task Install_MalformedSettings_Exits1AndLeavesItAsItWas()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(SettingsFile)!);
        File.WriteAllText(SettingsFile, "{\"model\": ");

        var result = await AgentProcess.RunAsync(_environment, "install", "--channel-command", _channel);

        result.ExitCode.Should().Be(1);
        result.Stderr.Should().Contain("~/.claude/settings.json is not valid JSON").And.NotContain("   at ");
        File.ReadAllText(SettingsFile).Should().Be("{\"model\": ");
        File.Exists(StateFile).Should().BeFalse();
    }

    [Fact]
    public async Task Install_ChannelCommandWithAnotherName_IsRefused()
    {
        var result = await AgentProcess.RunAsync(_environment, "install", "--channel-command", "/bin/cat");

        result.ExitCode.Should().Be(1);
        result.Stderr.Should().Contain("is not called relay-channel");
        File.Exists(StateFile).Should().BeFalse();
    }

    [Fact]
    public async Task Install_TimeoutOutOfRange_IsAUsageError()
    {
        var result = await AgentProcess.RunAsync(_environment, "install", "--channel-command", _channel, "--hook-timeout", "0");

        result.ExitCode.Should().Be(2);
        result.Stderr.Should().Contain("--hook-timeout must be between 1 and 600 seconds");
    }
}
