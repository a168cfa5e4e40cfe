using Relay.Agent.Install;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Install;

/// <summary>
/// deploy/claude-code/ shows exactly what <c>relay-agent install</c> writes into an empty HOME (with placeholder paths
/// and secret). Regenerate with <c>RELAY_REGENERATE_EXAMPLES=1 dotnet test tests/Agent.Tests --filter ClaudeCodeExampleTests</c>.
/// </summary>
public sealed class ClaudeCodeExampleTests
{
    [Fact]
    public void Examples_MatchWhatInstallWrites()
    {
        using var root = new TempDirectory("relay-example-");
        var home = Path.Combine(root.Path, "home");
        Directory.CreateDirectory(home);
        var paths = ClaudeConfigPaths.FromEnvironment(n => n == "HOME" ? home : null);
        var plan = new InstallPlan(
            "http://127.0.0.1:7471/hooks",
            "relay_hook_<secret from ~/.config/relay/agent.json>",
            InstallCommand.DefaultHookTimeoutSeconds,
            InstallCommand.DefaultPermissionTimeoutSeconds,
            new ProgramCommand("/home/you/.local/bin/relay-agent", []),
            new ProgramCommand("/home/you/.local/bin/relay-channel", []));

        new ClaudeInstaller(paths, TimeProvider.System, n => n == "HOME" ? home : null)
            .Install(plan, dryRun: false, TextWriter.Null, TextWriter.Null).Should().Be(0);

        var examples = Path.Combine(Repository.Root, "deploy", "claude-code");
        var expected = new Dictionary<string, string>
        {
            ["settings.json"] = File.ReadAllText(paths.SettingsFile),
            ["claude.json"] = File.ReadAllText(paths.StateFile),
        };
        foreach (var (name, content) in expected)
        {
            var file = Path.Combine(examples, name);
            if (Environment.GetEnvironmentVariable("RELAY_REGENERATE_EXAMPLES") == "1")
            {
                File.WriteAllText(file, content);
            }

            File.ReadAllText(file).Should().Be(content, "deploy/claude-code/" + name + " must show what install writes (see the class comment to regenerate)");
        }
    }
}

/// <summary>The repository checkout the tests were built from.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Relay.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Relay.sln not found above " + AppContext.BaseDirectory);
    }
}
