namespace Relay.Protocol.Local;

/// <summary>
/// Where relay-agent keeps its files and its Unix socket, shared by the agent, relay-channel and the hook client so
/// that all three find each other without configuration. Each location follows the XDG base directory variables and
/// can be overridden by one <c>RELAY_AGENT_*</c> variable (two agents on one machine, as in tests, set them).
/// </summary>
public static class LocalAgentPaths
{
    /// <summary>Overrides the Unix socket path.</summary>
    public const string SocketVariable = "RELAY_AGENT_SOCKET";

    /// <summary>Overrides the configuration directory (agent.json: broker, credential, hook secret).</summary>
    public const string ConfigDirectoryVariable = "RELAY_AGENT_CONFIG_DIR";

    /// <summary>Overrides the state directory (spool, link position, prompt queue, hook drop files).</summary>
    public const string StateDirectoryVariable = "RELAY_AGENT_STATE_DIR";

    /// <summary>Set by the launcher in Claude's environment; inherited by the channel and every hook.</summary>
    public const string LaunchIdVariable = "RELAY_LAUNCH_ID";

    /// <summary>The file name of the socket inside the runtime directory.</summary>
    public const string SocketFileName = "agent.sock";

    /// <summary>
    /// The socket path: <c>$RELAY_AGENT_SOCKET</c>, else <c>$XDG_RUNTIME_DIR/relay/agent.sock</c>, else
    /// <c>/tmp/relay-&lt;uid&gt;/agent.sock</c>. The agent creates the directory 0700 and the socket 0600.
    /// </summary>
    public static string Socket(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (NonEmpty(environment(SocketVariable)) is { } explicitPath)
        {
            return explicitPath;
        }

        var runtime = NonEmpty(environment("XDG_RUNTIME_DIR")) is { } xdg
            ? Path.Combine(xdg, "relay")
            : Path.Combine(Path.GetTempPath(), "relay-" + CurrentUserId());
        return Path.Combine(runtime, SocketFileName);
    }

    /// <summary>
    /// The configuration directory: <c>$RELAY_AGENT_CONFIG_DIR</c>, else <c>$XDG_CONFIG_HOME/relay</c>, else
    /// <c>~/.config/relay</c>.
    /// </summary>
    public static string ConfigDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        return NonEmpty(environment(ConfigDirectoryVariable))
            ?? Path.Combine(NonEmpty(environment("XDG_CONFIG_HOME")) ?? Path.Combine(Home(environment), ".config"), "relay");
    }

    /// <summary>
    /// The state directory: <c>$RELAY_AGENT_STATE_DIR</c>, else <c>$XDG_STATE_HOME/relay/agent</c>, else
    /// <c>~/.local/state/relay/agent</c>.
    /// </summary>
    public static string StateDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        return NonEmpty(environment(StateDirectoryVariable))
            ?? Path.Combine(NonEmpty(environment("XDG_STATE_HOME")) ?? Path.Combine(Home(environment), ".local", "state"), "relay", "agent");
    }

    /// <summary>The hook client's drop directory: hook requests the agent did not answer in time wait here.</summary>
    public static string HookDropDirectory(Func<string, string?>? environment = null) =>
        Path.Combine(StateDirectory(environment), "hook-drop");

    private static string Home(Func<string, string?> environment) =>
        NonEmpty(environment("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    // The real uid, not the user name: two users with one name cannot exist, but a name can be reused after a uid
    // changes, and the socket directory's owner is checked by uid.
    private static string CurrentUserId()
    {
        try
        {
            var status = File.ReadAllLines("/proc/self/status");
            var uidLine = Array.Find(status, l => l.StartsWith("Uid:", StringComparison.Ordinal));
            if (uidLine is not null)
            {
                return uidLine.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1];
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Environment.UserName;
    }
}
