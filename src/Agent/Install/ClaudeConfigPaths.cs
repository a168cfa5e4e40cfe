namespace Relay.Agent.Install;

/// <summary>
/// Where Claude Code keeps the two user files Relay edits: the user settings (<c>~/.claude/settings.json</c>, hooks)
/// and the user state file (<c>~/.claude.json</c>: user-scope MCP servers, per-project trust). Both move under
/// <c>$CLAUDE_CONFIG_DIR</c> when that is set, as Claude Code does.
/// </summary>
/// <param name="SettingsFile">The user settings file.</param>
/// <param name="StateFile">The user state file.</param>
internal sealed record ClaudeConfigPaths(string SettingsFile, string StateFile)
{
    /// <summary>The paths for the environment <paramref name="environment"/> describes (HOME, CLAUDE_CONFIG_DIR).</summary>
    public static ClaudeConfigPaths FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("CLAUDE_CONFIG_DIR") is { Length: > 0 } configDirectory)
        {
            return new(Path.Combine(configDirectory, "settings.json"), Path.Combine(configDirectory, ".claude.json"));
        }

        var home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new(Path.Combine(home, ".claude", "settings.json"), Path.Combine(home, ".claude.json"));
    }

    /// <summary><paramref name="path"/> with the home directory shortened to <c>~</c>, for messages.</summary>
    public static string Display(string path, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var home = environment("HOME");
        return !string.IsNullOrEmpty(home) && path.StartsWith(home.TrimEnd('/') + "/", StringComparison.Ordinal)
            ? "~" + path[home.TrimEnd('/').Length..]
            : path;
    }
}
