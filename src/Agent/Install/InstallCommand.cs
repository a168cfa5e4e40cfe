using System.CommandLine;
using Relay.Agent.Config;

namespace Relay.Agent.Install;

/// <summary><c>relay-agent install|uninstall</c>.</summary>
internal static class InstallCommand
{
    /// <summary>Default timeout of the http hooks, in seconds: the agent answers within a second or so.</summary>
    public const int DefaultHookTimeoutSeconds = 10;

    /// <summary>Default timeout of the PermissionRequest hook, in seconds: how long a remote verdict may take.</summary>
    public const int DefaultPermissionTimeoutSeconds = 60;

    private const string SecretPlaceholder = "<hook secret: generated on install>";

    public static Command Create()
    {
        var dryRun = DryRunOption();
        var channel = new Option<string?>("--channel-command")
        {
            Description = "relay-channel to register as the 'relay' MCP server (default: the one beside relay-agent; a .dll runs under dotnet).",
        };
        var agent = new Option<string?>("--agent-command")
        {
            Description = "relay-agent for the SessionStart command hook (default: this program).",
        };
        var hookTimeout = SecondsOption("--hook-timeout", DefaultHookTimeoutSeconds, "Timeout of the http hooks, in seconds.");
        var permissionTimeout = SecondsOption(
            "--permission-timeout",
            DefaultPermissionTimeoutSeconds,
            "Timeout of the PermissionRequest hook, in seconds: how long a remote approval may take before Claude Code asks locally.");

        var command = new Command("install", "Wire Relay's hooks and channel into Claude Code (~/.claude/settings.json, ~/.claude.json).")
        {
            dryRun, channel, agent, hookTimeout, permissionTimeout,
        };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var isDryRun = result.GetValue(dryRun);
                var store = AgentConfigStore.ForCurrentUser();
                var config = isDryRun ? store.Load() : store.EnsureHookSecret();
                var plan = new InstallPlan(
                    config.HookUrl,
                    config.HookSecret ?? SecretPlaceholder,
                    result.GetValue(hookTimeout),
                    result.GetValue(permissionTimeout),
                    result.GetValue(agent) is { } agentPath ? RelayPrograms.FromPath(agentPath, "relay-agent") : RelayPrograms.Agent(),
                    result.GetValue(channel) is { } channelPath
                        ? RelayPrograms.FromPath(channelPath, "relay-channel")
                        : RelayPrograms.ChannelBesideAgent() ?? throw new InstallException(
                            "relay-channel is not installed beside relay-agent (looked in " + AppContext.BaseDirectory +
                            "). Pass its path with --channel-command <path>."));
                var exitCode = Installer().Install(plan, isDryRun, output, error);
                if (exitCode == 0 && !isDryRun)
                {
                    output.WriteLine("Not hooked on purpose: " + string.Join(", ", ClaudeHookEvents.Skipped.Keys) + " (see docs/agent.md).");
                    output.WriteLine("Hooks apply to running sessions at once; the 'relay' channel only to sessions started from now on.");
                }

                return exitCode;
            }
            catch (Exception ex) when (ex is InstallException or AgentConfigException)
            {
                error.WriteLine("relay-agent: " + ex.Message);
                return 1;
            }
        });
        return command;
    }

    public static Command CreateUninstall()
    {
        var dryRun = DryRunOption();
        var command = new Command("uninstall", "Remove exactly what install wrote into Claude Code's configuration.") { dryRun };
        command.SetAction(result =>
            Installer().Uninstall(result.GetValue(dryRun), result.InvocationConfiguration.Output, result.InvocationConfiguration.Error));
        return command;
    }

    private static ClaudeInstaller Installer() =>
        new(ClaudeConfigPaths.FromEnvironment(), TimeProvider.System, Environment.GetEnvironmentVariable);

    private static Option<bool> DryRunOption() => new("--dry-run") { Description = "Show the change as a diff; write nothing." };

    private static Option<int> SecondsOption(string name, int defaultValue, string description)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<int>();
            if (value is < 1 or > 600)
            {
                r.AddError(name + " must be between 1 and 600 seconds (Claude Code's own hook limit is 600).");
            }
        });
        return option;
    }
}
